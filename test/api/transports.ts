/**
 * The API's two transports for the same tests: node:http (`fleetwarden run --listen`) and a Lambda function URL.
 * A function URL cannot run here, so it is emulated by an HTTP server that turns each request into the event AWS
 * documents for function URLs (payload format 2.0: lower-case header names, repeated headers joined by commas,
 * cookies in `cookies` and not in a Cookie header, a body base64-encoded unless it is text, the event plain JSON)
 * and the handler's result back into a response (`cookies` as Set-Cookie headers, a base64 body decoded). Function
 * URLs are HTTPS only: a browser there sends an `https://` Origin, which the emulated one gives as `origin`.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type FunctionUrlEvent, type FunctionUrlResult, functionUrlHandler } from '../../src/api/function-url.js';
import { type ApiDeps, createApi, createApiServer, listen } from '../../src/api/server.js';

export type Transport = 'node:http' | 'function URL';
export const TRANSPORTS: readonly Transport[] = ['node:http', 'function URL'];

export interface Served {
  /** Where to send requests. */
  readonly base: string;
  /** What the dashboard's page would send as Origin. */
  readonly origin: string;
  /** Whether session cookies come back Secure. */
  readonly secure: boolean;
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A request as a function URL's event (AWS's documented shape). */
export async function functionUrlEvent(req: IncomingMessage): Promise<FunctionUrlEvent> {
  const url = new URL(req.url ?? '/', 'http://x');
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (k === 'cookie') cookies = [v].flat().flatMap((c) => c.split(/;\s*/)).filter((c) => c !== '');
    else headers[k] = [v].flat().join(',');
  }
  const body = await bodyOf(req);
  const text = /^(text\/|application\/json)/.test(headers['content-type'] ?? '') || body.length === 0;
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    requestContext: { accountId: 'anonymous', apiId: 'emulated', domainName: headers['host'] ?? '', http: { method: req.method ?? 'GET', path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' }, requestId: 'r', routeKey: '$default', stage: '$default', time: '', timeEpoch: 0 },
    ...(body.length === 0 ? {} : { body: text ? body.toString('utf8') : body.toString('base64') }),
    isBase64Encoded: !text,
  };
  // Lambda hands the function JSON: nothing but data crosses.
  return JSON.parse(JSON.stringify(event)) as FunctionUrlEvent;
}

/**
 * Serves `handler` (a function URL's Lambda handler) as the function URL would, on 127.0.0.1: over HTTPS when given a
 * key and certificate (as a real function URL; a browser then keeps Secure cookies), else plain HTTP for fetch.
 */
export async function emulateFunctionUrl(handler: (event: FunctionUrlEvent) => Promise<FunctionUrlResult>, tls?: { key: string; cert: string }): Promise<{ server: Server; base: string }> {
  const listener: RequestListener = (req, res) => {
    void (async () => {
      try {
        const out = JSON.parse(JSON.stringify(await handler(await functionUrlEvent(req)))) as FunctionUrlResult;
        const headers: Record<string, string | string[]> = { ...out.headers };
        if (out.cookies !== undefined && out.cookies.length > 0) headers['set-cookie'] = out.cookies;
        res.writeHead(out.statusCode, headers);
        res.end(out.isBase64Encoded ? Buffer.from(out.body, 'base64') : out.body);
      } catch (err) {
        // What a function URL answers when the function fails.
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Message: String(err) }));
      }
    })();
  };
  const server: Server = tls === undefined ? createServer(listener) : (createTlsServer(tls, listener));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function serveApi(deps: ApiDeps, transport: Transport): Promise<Served> {
  const close = (server: Server) => async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  if (transport === 'node:http') {
    const server = createApiServer(deps);
    const base = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
    return { base, origin: base, secure: false, close: close(server) };
  }
  const { server, base } = await emulateFunctionUrl(functionUrlHandler(createApi(deps)));
  return { base, origin: base.replace(/^http:/, 'https:'), secure: true, close: close(server) };
}
