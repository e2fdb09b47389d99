/**
 * The dashboard's files, served at / and /ui/* from the build on disk (dist/ui, made by `npm run build:ui` and
 * shipped in the package): nothing from a CDN, so the page works without internet. Only the files the build makes
 * are served — a fixed list, so no path reaches elsewhere on disk. A strict Content-Security-Policy lets the page
 * load only its own script and style and talk only to this origin.
 */
import { readFileSync } from 'node:fs';
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

/** One dashboard file as an answer (status, headers, body; no body for HEAD). */
export function serveUi(dir: string | undefined, pathname: string, head: boolean): { status: number; headers: Record<string, string>; body: Buffer | string | undefined } {
  const entry = FILES[pathname];
  const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };
  const missing = (message: string): { status: number; headers: Record<string, string>; body: string } => ({ status: 404, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify({ error: { code: 'not-found', message } }) });
  if (entry === undefined) return missing(`no dashboard file ${pathname}`);
  const path = join(dir ?? DEFAULT_UI_DIR, entry.file);
  let body = cache.get(path);
  if (body === undefined) {
    try {
      body = readFileSync(path);
      cache.set(path, body);
    } catch {
      return missing('the dashboard is not built here (npm run build:ui makes dist/ui)');
    }
  }
  return { status: 200, headers: { 'content-type': entry.type, 'content-length': String(body.length), 'cache-control': 'no-cache', 'content-security-policy': CSP, ...headers }, body: head ? undefined : body };
}
