/**
 * What the instance knows about itself, from the EC2 instance metadata service, version 2 only (fix: the seed's
 * watcher spoke IMDSv1): a session token from PUT /latest/api/token, then GETs with it. The instance id, its region,
 * and the temporary credentials of its IAM role (the identity it proves to the controller: no secret is installed).
 */
import { FleetwardenError } from '../domain/errors.js';
import type { AwsCredentials } from './sigv4.js';
import { httpFetch } from './http.js';

const TOKEN_TTL_SECONDS = 21_600;

/** The metadata service could not tell: `not-found` when it answered 404 (no role attached), else retryable (it may be down). */
export class IdentityError extends FleetwardenError {
  override readonly name: string = 'IdentityError';
  /** The metadata service answered 404: the thing asked for does not exist (no role attached), as opposed to down. */
  readonly missing: boolean;
  constructor(message: string, missing = false) {
    super(message, {}, missing ? 'not-found' : 'retryable');
    this.missing = missing;
  }
}

function cause(err: unknown): string {
  return err instanceof Error ? ((err.cause as { code?: string; message?: string } | undefined)?.code ?? (err.cause as { message?: string } | undefined)?.message ?? err.message) : String(err);
}

/** GETs each path in order with one session token; the answers' bodies, trimmed. */
async function imdsGet(base: string, paths: readonly ((previous: string) => string)[], timeoutMs: number): Promise<string[]> {
  const t = await httpFetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) }, signal: AbortSignal.timeout(timeoutMs) });
  if (!t.ok) throw new IdentityError(`PUT /latest/api/token answered ${t.status}`);
  const token = (await t.text()).trim();
  const out: string[] = [];
  for (const p of paths) {
    const path = p(out.at(-1) ?? '');
    const r = await httpFetch(`${base}${path}`, { headers: { 'x-aws-ec2-metadata-token': token }, signal: AbortSignal.timeout(timeoutMs) });
    if (!r.ok) throw new IdentityError(`GET ${path} answered ${r.status}`, r.status === 404);
    out.push((await r.text()).trim());
  }
  return out;
}

async function withRetries<T>(attempts: number, what: string, base: string, work: () => Promise<T>): Promise<T> {
  let last = '';
  for (let i = 0; i < attempts; i++) {
    try {
      return await work();
    } catch (err) {
      if (err instanceof IdentityError && err.missing) throw err; // a definite answer: asking again changes nothing
      last = cause(err);
      if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
  throw new IdentityError(`cannot read ${what} from the metadata service at ${base} (IMDSv2): ${last}`);
}

export async function imdsInstanceId(endpoint: string, timeoutMs = 2000, attempts = 3): Promise<string> {
  const base = endpoint.replace(/\/+$/, '');
  try {
    return await withRetries(attempts, 'the instance id', base, async () => {
      const [id = ''] = await imdsGet(base, [() => '/latest/meta-data/instance-id'], timeoutMs);
      if (!/^i-[A-Za-z0-9-]{1,63}$/.test(id)) throw new IdentityError(`the metadata service returned ${JSON.stringify(id.slice(0, 80))}, not an instance id`);
      return id;
    });
  } catch (err) {
    throw new IdentityError(`${err instanceof Error ? err.message : String(err)}; off EC2, give --instance-id`);
  }
}

export interface RoleCredentials extends AwsCredentials {
  readonly role: string;
  readonly region: string;
}

/**
 * The instance profile's role name, its temporary credentials and the instance's region. An instance without a
 * role: IdentityError with `missing` set.
 */
export async function imdsRoleCredentials(endpoint: string, timeoutMs = 2000, attempts = 3): Promise<RoleCredentials> {
  const base = endpoint.replace(/\/+$/, '');
  return withRetries(attempts, 'the IAM role credentials', base, async () => {
    let roles: string[];
    try {
      roles = await imdsGet(base, [() => '/latest/meta-data/iam/security-credentials/'], timeoutMs);
    } catch (err) {
      if (err instanceof IdentityError && err.missing) throw new IdentityError('this instance has no IAM role (instance profile)', true);
      throw err;
    }
    const role = (roles[0] ?? '').split('\n')[0]?.trim() ?? '';
    if (!/^[\w+=,.@-]{1,128}$/.test(role)) throw new IdentityError(role === '' ? 'this instance has no IAM role (instance profile)' : `the metadata service named an invalid role ${JSON.stringify(role.slice(0, 80))}`, role === '');
    const [raw = '', region = ''] = await imdsGet(base, [() => `/latest/meta-data/iam/security-credentials/${role}`, () => '/latest/meta-data/placement/region'], timeoutMs);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new IdentityError(`the credentials of role ${role} are not JSON`);
    }
    const [id, secret, token] = [doc['AccessKeyId'], doc['SecretAccessKey'], doc['Token']];
    if (typeof id !== 'string' || typeof secret !== 'string' || id === '' || secret === '') throw new IdentityError(`the credentials of role ${role} have no AccessKeyId/SecretAccessKey (Code ${JSON.stringify(doc['Code'] ?? null)})`);
    if (!/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region)) throw new IdentityError(`the metadata service returned ${JSON.stringify(region.slice(0, 40))}, not a region`);
    return { role, region, accessKeyId: id, secretAccessKey: secret, ...(typeof token === 'string' && token !== '' ? { sessionToken: token } : {}) };
  });
}
