/**
 * The controller's half of the agents' IAM login (Vault's AWS auth, "iam" method): an agent signs
 * `sts:GetCallerIdentity` with its instance role's credentials and hands the signed request over; the controller
 * checks it is that call, fresh, and bound to this controller (the server id header is signed), then sends it —
 * unchanged, signed headers only — to STS, which alone can check the signature. STS answers with the caller's ARN:
 * `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, where an instance profile's SESSION is the instance id.
 *
 * The controller never uses credentials of its own for this (no IAM permission), and only sends to AWS STS hosts
 * (`sts[.REGION].amazonaws.com[.cn]`, https) or the one endpoint its configuration names: a login cannot make it
 * call anything else.
 */
import { FleetwardenError } from '../../domain/errors.js';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface SignedLogin {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface CallerIdentity {
  readonly arn: string;
  readonly account: string;
  readonly role: string;
  readonly session: string;
}

/** A login refused: the HTTP status the API answers with, and why (never the signature or the credentials). */
export class LoginRefused extends FleetwardenError {
  override readonly name: string = 'LoginRefused';
  readonly status: number;
  constructor(status: number, message: string) {
    // 429 (too many logins) and 502 (STS unreachable or failing) may pass; the others are the login's own fault.
    super(message, {}, status === 429 || status >= 500 ? 'retryable' : 'invalid-input');
    this.status = status;
  }
}

export const SERVER_ID_HEADER = 'x-fleetwarden-server-id';
/** A signed request older (or newer) than this is refused before it reaches STS (STS itself allows 15 minutes). */
export const MAX_SKEW_MS = 5 * 60_000;
const STS_HOST = /^sts(?:-fips)?(?:\.[a-z]{2}(?:-[a-z]+)+-\d{1,2})?\.amazonaws\.com(?:\.cn)?$/;
const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/sts\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** The parts of a signed login the controller relies on; throws LoginRefused naming what is wrong. */
export function checkSignedLogin(login: SignedLogin, o: { readonly serverId: string; readonly stsEndpoint: string | undefined; readonly now: number }): { target: URL; headers: Record<string, string>; signature: string } {
  if (login.method !== 'POST') throw new LoginRefused(400, `method: expected POST, got ${JSON.stringify(login.method.slice(0, 20))}`);
  const form = new URLSearchParams(login.body);
  if ([...form.keys()].sort().join(',') !== 'Action,Version' || form.get('Action') !== 'GetCallerIdentity' || form.get('Version') !== '2011-06-15') throw new LoginRefused(400, 'body: expected exactly Action=GetCallerIdentity&Version=2011-06-15');
  let url: URL;
  try {
    url = new URL(login.url);
  } catch {
    throw new LoginRefused(400, 'url: not a URL');
  }
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') throw new LoginRefused(400, 'url: expected the root of an STS endpoint, without a query');
  const configured = o.stsEndpoint === undefined ? undefined : new URL(o.stsEndpoint);
  const target = configured !== undefined && configured.host === url.host && configured.protocol === url.protocol ? configured : url.protocol === 'https:' && url.port === '' && STS_HOST.test(url.hostname) ? url : undefined;
  if (target === undefined) throw new LoginRefused(400, `url: ${url.host} is not an STS endpoint this controller sends to (AWS's sts[.REGION].amazonaws.com over https${configured === undefined ? '' : `, or ${configured.host}`})`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(login.headers)) headers[k.toLowerCase()] = v;
  const auth = AUTH.exec(headers['authorization'] ?? '');
  if (!auth) throw new LoginRefused(400, 'headers.authorization: expected an AWS4-HMAC-SHA256 signature for sts');
  const [, , scopeDate, , signedList = '', signature = ''] = auth;
  const signed = signedList.split(';');
  for (const need of ['host', 'x-amz-date', SERVER_ID_HEADER]) if (!signed.includes(need)) throw new LoginRefused(400, `headers: ${need} must be signed`);
  for (const name of signed) if (headers[name] === undefined) throw new LoginRefused(400, `headers: ${name} is signed but absent`);
  if (headers['host'] !== url.host) throw new LoginRefused(400, 'headers.host: does not match the url');
  if (headers[SERVER_ID_HEADER] !== o.serverId) throw new LoginRefused(401, `headers.${SERVER_ID_HEADER}: signed for another server (this one is ${JSON.stringify(o.serverId)})`);
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(headers['x-amz-date'] ?? '');
  const at = date ? Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(date[4]), Number(date[5]), Number(date[6])) : NaN;
  if (!Number.isFinite(at) || headers['x-amz-date']?.slice(0, 8) !== scopeDate) throw new LoginRefused(400, 'headers.x-amz-date: expected YYYYMMDDTHHMMSSZ matching the credential scope');
  if (Math.abs(o.now - at) > MAX_SKEW_MS) throw new LoginRefused(401, `headers.x-amz-date: signed ${Math.round((o.now - at) / 1000)} s from this controller's clock (at most ${MAX_SKEW_MS / 1000} s): a replay, or a clock to fix`);
  // Only what was signed goes on (and the signature): nothing the agent added unsigned reaches STS.
  const sent: Record<string, string> = { authorization: headers['authorization'] ?? '' };
  for (const name of signed) sent[name] = headers[name] ?? '';
  return { target, headers: sent, signature };
}

function xmlField(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

/** `arn:aws:sts::123456789012:assumed-role/web-role/i-0abc…` → its parts; undefined for any other principal. */
export function parseAssumedRoleArn(arn: string): CallerIdentity | undefined {
  const m = /^arn:aws(?:-cn|-us-gov)?:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/.exec(arn);
  return m ? { arn, account: m[1] ?? '', role: m[2] ?? '', session: m[3] ?? '' } : undefined;
}

/** Sends the checked request to STS; the caller's identity, or LoginRefused (401 refused by STS, 502 unreachable). */
export function callerIdentity(target: URL, headers: Readonly<Record<string, string>>, body: string, timeoutMs = 5000): Promise<CallerIdentity> {
  return new Promise((resolveCall, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 64 * 1024) chunks.push(c);
      });
      res.on('end', () => {
        const xml = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          const why = `${xmlField(xml, 'Code') ?? `HTTP ${res.statusCode ?? '?'}`}${xmlField(xml, 'Message') === undefined ? '' : `: ${xmlField(xml, 'Message') ?? ''}`}`;
          reject(new LoginRefused((res.statusCode ?? 500) >= 500 ? 502 : 401, `STS refused the signed request: ${why.slice(0, 300)}`));
          return;
        }
        const arn = xmlField(xml, 'Arn') ?? '';
        const id = parseAssumedRoleArn(arn);
        if (id === undefined) reject(new LoginRefused(403, `the signer is ${JSON.stringify(arn.slice(0, 200))}, not an assumed role (an instance profile, or for operators an SSO or assumed role: IAM users' keys are not accepted)`));
        else resolveCall(id);
      });
      res.on('error', (err) => {
        reject(new LoginRefused(502, `STS answer: ${err.message}`));
      });
    });
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    req.on('error', (err) => {
      reject(new LoginRefused(502, `STS at ${target.host} unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    req.end(body);
  });
}
