import { existsSync } from 'node:fs';
import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialling out of this machine's closed network.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** In a `before` hook: skips the suite when there is no browser, except on CI, which must run it. */
export function skipWithoutChromium(context: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  // CI must run these checks: there a missing browser is a failure, not a skip.
  if (process.env.CI) throw new Error(`no browser at ${CHROMIUM}: npm run setup installs Debian's chromium when run as root`);
  console.log(`    (skipped: no browser at ${CHROMIUM}; npm run setup installs Debian's chromium when run as root)`);
  context.skip();
}

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

/** Serves on a free port of 127.0.0.1; resolves with the port. */
export async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** axe-core on the page as it is, in light and dark colours: no "serious" or "critical" violation. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const { violations } = await new AxeBuilder({ page }).analyze();
    const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(
      grave.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
      `${label}, ${colorScheme}`,
    ).to.deep.equal([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
