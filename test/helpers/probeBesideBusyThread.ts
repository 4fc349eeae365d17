// Run as a process of its own: a worker thread that keeps a core busy, then the pool probe. Prints what it found.
import { readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { lowerThreadPoolPriority } from '../../src/config/threadPool.js';

// The worker says its thread id (/proc/thread-self is /proc/<pid>/task/<tid>), then spins until the process exits.
const busy = new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.postMessage(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()));
   for (;;);`,
  { eval: true },
);
const [busyTid] = (await once(busy, 'message')) as [number];
const outcome = await lowerThreadPoolPriority(4);
const pool = 'threads' in outcome ? outcome.threads : [];
console.log(JSON.stringify({ busyTid, pool, main: Number(readlinkSync('/proc/thread-self').split('/').pop()) }));
process.exit(0);
