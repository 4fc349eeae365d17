import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The same code runs from the sources (tsx) and from dist/, so find the root by its package.json.
function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + start);
    dir = parent;
  }
  return dir;
}

export const projectRoot = findProjectRoot(import.meta.dirname);
export const viewsDir = path.join(projectRoot, 'views');
export const publicDir = path.join(projectRoot, 'public');
export const localesDir = path.join(projectRoot, 'locales');
export const faviconPath = path.join(publicDir, 'favicon.ico');
/** @simplewebauthn/browser's bundle (its global `SimpleWebAuthnBrowser`), served from node_modules under /static/webauthn. */
export const webauthnBrowserDir = path.join(path.dirname(fileURLToPath(import.meta.resolve('@simplewebauthn/browser'))), '..', 'dist', 'bundle');
