/**
 * AWS Signature Version 4 for the one request the agent signs: `sts:GetCallerIdentity`, which the controller
 * forwards to STS to learn which role (and instance) holds the credentials. Written here (about 40 lines of
 * node:crypto) rather than bundling the SDK's signer, which would more than double the single-file agent; the tests
 * check it against the SDK's signer byte for byte.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface SignedRequest {
  readonly method: 'POST';
  readonly url: string;
  /** Lower-case names; every one of them is signed. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export const CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
/** The audience header, bound into the signature so a request signed for one controller is refused by another. */
export const SERVER_ID_HEADER = 'x-fleetwarden-server-id';
/** A random value per login, signed: two logins in the same second differ, so only a true replay repeats a signature. */
export const NONCE_HEADER = 'x-fleetwarden-nonce';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/** `20260601T100000Z` */
export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** RFC 3986 encoding of one path segment, as SigV4 wants it. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Signs `POST url` carrying GetCallerIdentity, with the server id header, for `region` at `now`. */
export function signCallerIdentity(url: string, region: string, credentials: AwsCredentials, serverId: string, now: number, nonce = randomBytes(16).toString('hex')): SignedRequest {
  const u = new URL(url);
  const date = amzDate(now);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    host: u.host,
    'x-amz-date': date,
    [SERVER_ID_HEADER]: serverId,
    [NONCE_HEADER]: nonce,
    ...(credentials.sessionToken === undefined ? {} : { 'x-amz-security-token': credentials.sessionToken }),
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${(headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const path = u.pathname.split('/').map(encodeSegment).join('/') || '/';
  const query = [...u.searchParams].map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).sort().join('&');
  const canonical = ['POST', path, query, canonicalHeaders, signedHeaders, sha256(CALLER_IDENTITY_BODY)].join('\n');
  const scope = `${date.slice(0, 8)}/${region}/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date.slice(0, 8)), region), 'sts'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return {
    method: 'POST',
    url: u.toString(),
    headers: { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` },
    body: CALLER_IDENTITY_BODY,
  };
}
