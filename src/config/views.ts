import ejs from 'ejs';
import { viewsDir } from './paths.js';

type Done = (err: Error | null, html?: string) => void;

/**
 * EJS with includes named from the views folder (`include('/partials/head')`): EJS resolves such a name by a path
 * join, where a relative one costs an `fs.existsSync` on every render, cache or not.
 */
export const viewEngine =
  (cache: boolean) =>
  (path: string, data: object, done: Done): void =>
    ejs.renderFile(path, data, { root: viewsDir, cache }, done);
