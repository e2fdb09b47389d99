/**
 * The API on a Lambda function URL: the function URL's event (payload format 2.0) as the API's request, and the
 * API's answer as the function URL's result. Everything else — routes, authentication, validation, answers — is the
 * same code `fleetwarden run --listen` serves on node:http (server.ts: createApi).
 *
 * The format's particulars, as AWS documents them (Lambda developer guide, "Invoking Lambda function URLs",
 * request and response payloads):
 * - the path and query arrive as `rawPath` and `rawQueryString`, the method in `requestContext.http.method`;
 * - header names are lower-case and repeated headers are joined with commas;
 * - the request's cookies arrive in `cookies` (one entry per cookie), not in a Cookie header;
 * - a body that is not text arrives base64-encoded (`isBase64Encoded`);
 * - a `Set-Cookie` the function answers goes in the result's `cookies`;
 * - every function URL is HTTPS, so session cookies are Secure there;
 * - `requestContext.domainName` is the URL's own domain: an operator's IAM login is signed for it by default.
 */
import { type ApiRequest, type ApiResponse, bodyTooLarge } from './server.js';

/** The part of a function URL's event the API reads. */
export interface FunctionUrlEvent {
  readonly rawPath?: string;
  readonly rawQueryString?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly cookies?: readonly string[];
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly domainName?: string; readonly http?: { readonly method?: string } };
}

export interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly cookies?: string[];
  readonly body: string;
  readonly isBase64Encoded: boolean;
}

export function fromFunctionUrl(event: FunctionUrlEvent): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  if (event.cookies !== undefined && event.cookies.length > 0) headers['cookie'] = event.cookies.join('; ');
  const query = event.rawQueryString ?? '';
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    url: `${event.rawPath ?? '/'}${query === '' ? '' : `?${query}`}`,
    headers,
    secure: true,
    // The function URL's own domain, set by AWS (the Host header is only what the client says).
    ...(event.requestContext?.domainName === undefined || event.requestContext.domainName === '' ? {} : { ownHost: event.requestContext.domainName }),
    body: (limit) => {
      const raw = event.body ?? '';
      const bytes = Buffer.from(raw, event.isBase64Encoded === true ? 'base64' : 'utf8');
      return bytes.length > limit ? Promise.reject(bodyTooLarge(limit)) : Promise.resolve(bytes);
    },
  };
}

/** Text answers go as text; anything else (none today) would go base64-encoded, as the format asks. */
export function toFunctionUrl(out: ApiResponse): FunctionUrlResult {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [k, v] of Object.entries(out.headers)) {
    if (k.toLowerCase() === 'set-cookie') cookies.push(v);
    else headers[k] = v;
  }
  const text = out.body === undefined ? '' : typeof out.body === 'string' ? out.body : null;
  const isText = text !== null || /^(text\/|application\/json)/.test(headers['content-type'] ?? '');
  const body = text ?? (isText ? (out.body as Buffer).toString('utf8') : (out.body as Buffer).toString('base64'));
  return { statusCode: out.status, headers, ...(cookies.length === 0 ? {} : { cookies }), body, isBase64Encoded: !isText };
}

/** A Lambda handler for a function URL serving `api` (createApi). */
export function functionUrlHandler(api: (req: ApiRequest) => Promise<ApiResponse>): (event: FunctionUrlEvent) => Promise<FunctionUrlResult> {
  return async (event) => toFunctionUrl(await api(fromFunctionUrl(event)));
}
