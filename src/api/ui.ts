/**
 * The dashboard's files, served at / and /ui/* from the build on disk (dist/ui, made by `npm run build:ui` and
 * shipped in the package): nothing from a CDN, so the page works without internet. Only the files the build makes
 * are served — a fixed list, so no path reaches elsewhere on disk. A strict Content-Security-Policy lets the page
 * load only its own script and style and talk only to this origin.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/ui beside this module (dist/src/api/ui.js). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cache = new Map<string, Buffer>();

/** Answers one dashboard file; returns the status sent. */
export function serveUi(res: ServerResponse, dir: string | undefined, pathname: string, head: boolean): number {
  const entry = FILES[pathname];
  const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };
  if (entry === undefined) {
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify({ error: { code: 'not-found', message: `no dashboard file ${pathname}` } }));
    return 404;
  }
  const path = join(dir ?? DEFAULT_UI_DIR, entry.file);
  let body = cache.get(path);
  if (body === undefined) {
    try {
      body = readFileSync(path);
      cache.set(path, body);
    } catch {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify({ error: { code: 'not-found', message: 'the dashboard is not built here (npm run build:ui makes dist/ui)' } }));
      return 404;
    }
  }
  res.writeHead(200, { 'content-type': entry.type, 'content-length': String(body.length), 'cache-control': 'no-cache', 'content-security-policy': CSP, ...headers });
  res.end(head ? undefined : body);
  return 200;
}
