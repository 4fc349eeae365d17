import { Router } from 'express';
import { STORE_TIMEOUT_MS, type Db, type Redis } from '../config/clients.js';
import { withTimeout } from '../models/storeErrors.js';

const answers = (check: () => Promise<unknown>) =>
  withTimeout(check(), STORE_TIMEOUT_MS).then(
    () => true,
    () => false,
  );

/** `listener`: the ended-session listener (services/endedSessions.ts); degraded, it does not change the status. */
export function healthRoutes({ db, redis, listener }: { db: Db; redis: Redis; listener: { readonly live: boolean } }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [mysql, redisAnswers] = await Promise.all([answers(() => db.query('SELECT 1')), answers(() => redis.ping())]);
    const missing = [...(mysql ? [] : ['mysql']), ...(redisAnswers ? [] : ['redis'])];
    res
      .status(missing.length ? 503 : 200)
      .set('Cache-Control', 'no-store')
      .json({ mysql, redis: redisAnswers, missing, listener: listener.live ? 'live' : 'degraded' });
  });
  return router;
}
