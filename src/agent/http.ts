/**
 * The agent's HTTP client: node:http/https, one connection per request. The global `fetch` (undici) would do, but
 * loading it costs the agent about a fifth of its memory (docs/development.md#benchmarks: the agent's resident
 * memory), and the agent makes only a few small JSON requests. A new connection per request also avoids reusing a
 * kept-alive connection the controller is closing at that moment (a failed poll, retried only a period later).
 * Failures look like fetch's: a network error carries its cause (`cause.code`, e.g. ECONNREFUSED), an abort or a
 * timeout rejects with the signal's reason.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  readonly ok: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** Bodies larger than this are cut (the controller's answers are a few KiB). */
const MAX_BODY = 4 * 1024 * 1024;

export function httpFetch(url: string, init: HttpInit = {}): Promise<HttpAnswer> {
  return new Promise((resolveAnswer, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const signal = init.signal;
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const req = send(u, { method: init.method ?? 'GET', agent: false, headers: { ...init.headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      res.on('error', (e) => {
        reject(new Error('fetch failed', { cause: e }));
      });
      res.on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolveAnswer({ status, ok: status >= 200 && status < 300, text: () => Promise.resolve(text), json: () => Promise.resolve(JSON.parse(text) as unknown) });
      });
    });
    const onAbort = (): void => {
      req.destroy();
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted === true ? (signal.reason as Error) : new Error('fetch failed', { cause: e }));
    });
    req.end(body);
  });
}
