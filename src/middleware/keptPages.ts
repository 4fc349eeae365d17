import type { NextFunction, Response } from 'express';

const HTML = 'text/html; charset=utf-8';

/**
 * Rendered pages kept in memory by a key and sent again while everything they show is the same: `shows`, compared
 * value by value (objects by identity: a security summary is replaced, never changed, when its account changes).
 * At most `limit` pages, the oldest dropped first.
 */
export function createKeptPages(limit: number) {
  const kept = new Map<string, { shows: readonly unknown[]; body: Buffer }>();
  const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((value, i) => value === b[i]);

  /** Renders `view` with `locals()`, or sends the page kept under `key` when it shows the same; no key: never kept. */
  return function render(res: Response, next: NextFunction, view: string, locals: () => object, key: string | undefined, shows: readonly unknown[]): void {
    const hit = key === undefined ? undefined : kept.get(key);
    if (hit && same(hit.shows, shows)) return void res.setHeader('Content-Type', HTML).send(hit.body);
    res.render(view, locals(), (err: Error | null, html: string) => {
      if (err) return next(err);
      const body = Buffer.from(html);
      if (key !== undefined) {
        if (kept.size >= limit && !kept.has(key)) kept.delete(kept.keys().next().value!);
        kept.set(key, { shows, body });
      }
      res.setHeader('Content-Type', HTML).send(body);
    });
  };
}
