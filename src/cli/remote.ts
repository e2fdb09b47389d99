/**
 * Where an operator command acts: on a running controller through its API (`--url`, or FLEETWARDEN_URL), or
 * directly on the store when no controller runs. Both paths answer with the same JSON (src/api/services.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { FleetConfig } from '../config/config.js';
import { formatPath, loadConfigFile } from '../config/load.js';
import { ConflictError, FleetwardenError, ValidationError, ValidationErrors } from '../domain/errors.js';
import type { Store } from '../ports/index.js';
import { openStore, ssmWindowsOf, worldClock } from '../app/compose.js';
import type { SsmWindowInfo } from '../config/ssm-windows.js';
import { errorBody } from '../api/wire.js';
import { operatorToken } from './iam.js';
import { UsageError } from './io.js';

export const DEFAULT_CONFIG = 'fleetwarden.yaml';
export const DEFAULT_STATE_DIR = '.fleetwarden';

export const TARGET_OPTIONS = {
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  iam: { type: 'boolean' },
  'server-id': { type: 'string' },
} as const;

export const TARGET_HELP = `  --config FILE     configuration file (default ${DEFAULT_CONFIG})
  --state-dir DIR   where the SQLite store lives (default ${DEFAULT_STATE_DIR}/)
  --url URL         act through a running controller's API instead of the store (or FLEETWARDEN_URL)
  --token TOKEN     the API token (prefer FLEETWARDEN_TOKEN; default: <state-dir>/admin-token when readable)
  --iam             log in to the API with your AWS identity instead of a token (controller.operatorIam)
  --server-id ID    the server id the IAM login is signed for (or FLEETWARDEN_SERVER_ID; default: --url's HOST[:PORT])`;

export interface TargetValues {
  readonly config?: string | undefined;
  readonly 'state-dir'?: string | undefined;
  readonly url?: string | undefined;
  readonly token?: string | undefined;
  readonly iam?: boolean | undefined;
  readonly 'server-id'?: string | undefined;
}

export class ApiClient {
  readonly url: string;
  /** A token, or how to get one (an IAM login), done once on the first call. */
  private token: string | Promise<string> | (() => Promise<string>);

  constructor(url: string, token: string | (() => Promise<string>)) {
    this.url = url.replace(/\/+$/, '');
    this.token = token;
  }

  private bearer(): Promise<string> | string {
    if (typeof this.token === 'function') this.token = this.token();
    return this.token;
  }

  /**
   * Calls the API and decodes its answer with the route's schema (src/api/wire.ts, `noContent` for a 204): an answer
   * of another shape (a controller of another version) is a usage error naming the route and the field. Its 400 answers
   * become the same `ValidationErrors` the store path throws.
   */
  async call<S extends z.ZodType>(method: string, path: string, answer: S, body?: unknown): Promise<z.output<S>> {
    const token = await this.bearer();
    let r: Response;
    try {
      r = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err instanceof Error ? err.message : String(err));
      throw new FleetwardenError(`cannot reach the controller at ${this.url} (${cause}); is 'fleetwarden run' serving there? Without --url the store is used directly`);
    }
    const route = `${method} ${path.replace(/\?.*$/, '')}`;
    if (r.status === 204) return decode(this.url, route, answer, null);
    const text = await r.text();
    let json: unknown;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      throw new FleetwardenError(`${this.url}${path} answered ${r.status} with something that is not JSON`);
    }
    if (r.ok) return decode(this.url, route, answer, json);
    const parsed = errorBody.safeParse(json);
    const error = parsed.success ? parsed.data.error : undefined;
    const message = error?.message ?? `HTTP ${r.status}`;
    if (r.status === 400) throw new ValidationErrors((error?.fields ?? [{ field: '', reason: message }]).map((f) => new ValidationError(f.field, f.reason)));
    if (r.status === 401 || r.status === 403) throw new UsageError('--token', `${message} (HTTP ${r.status})`);
    if (r.status === 404) throw new ValidationError('', message);
    if (r.status === 409) throw new ConflictError('', message);
    throw new FleetwardenError(`the controller answered ${r.status}: ${message}`);
  }
}

/**
 * `answer` decoded with `schema`, or an error naming the route and the first fields that do not fit. It is the
 * target's fault, not the CLI's: `--url` names a controller of another version, or something else.
 */
function decode<S extends z.ZodType>(url: string, route: string, schema: S, answer: unknown): z.output<S> {
  const r = schema.safeParse(answer);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.length === 0 ? 'the whole answer' : formatPath(i.path)}: ${i.message}`);
  const more = r.error.issues.length > 3 ? `; and ${r.error.issues.length - 3} more` : '';
  throw new ValidationError('--url', `${route} answered a shape this CLI does not expect (${issues.join('; ')}${more}): is ${url} a Fleetwarden controller of this version?`);
}

/** The API client when a URL is given, else null (act on the store). */
export function apiClient(values: TargetValues): ApiClient | null {
  const url = values.url ?? process.env['FLEETWARDEN_URL'];
  if ((url === undefined || url === '') && values.iam === true) throw new UsageError('--iam', 'logs in to an API: give --url (or FLEETWARDEN_URL)');
  if (url === undefined || url === '') return null;
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError('--url', `expected http://HOST:PORT, got ${JSON.stringify(url)}`);
  if (values.iam === true) {
    if (values.token !== undefined) throw new UsageError('--iam', 'give --iam or --token, not both');
    const serverId = values['server-id'];
    return new ApiClient(url, () => operatorToken(url, { serverId }));
  }
  if (values['server-id'] !== undefined) throw new UsageError('--server-id', 'only with --iam');
  let token = values.token ?? process.env['FLEETWARDEN_TOKEN'];
  if (token === undefined || token === '') {
    const file = join(values['state-dir'] ?? DEFAULT_STATE_DIR, 'admin-token');
    if (existsSync(file)) token = readFileSync(file, 'utf8').trim();
  }
  if (token === undefined || token === '') throw new UsageError('--token', 'the API needs a token: --token, FLEETWARDEN_TOKEN, or a readable <state-dir>/admin-token');
  return new ApiClient(url, token);
}

export { storePathOf } from '../app/compose.js';

/** What a command acting on the store is given besides it: the configured world's clock and its SSM windows. */
export interface LocalContext {
  readonly now: number;
  readonly ssmWindows: () => Promise<SsmWindowInfo[]>;
}

/** The configured world's clock and window source, from the composition root. */
export function localContext(config: FleetConfig, values: TargetValues): LocalContext {
  const clock = worldClock(config, values['state-dir'] ?? DEFAULT_STATE_DIR);
  return { now: clock.now(), ssmWindows: ssmWindowsOf(config, clock) };
}

/** Loads the configuration, opens its store, and always closes it. */
export async function withStore<T>(values: TargetValues, fn: (store: Store, config: FleetConfig, local: LocalContext) => Promise<T>): Promise<T> {
  const config = loadConfigFile(values.config ?? DEFAULT_CONFIG);
  const store = await openStore(config, values['state-dir'] ?? DEFAULT_STATE_DIR);
  try {
    return await fn(store, config, localContext(config, values));
  } finally {
    await store.close();
  }
}

/** Runs `remote` through the API when a URL is given, else `local` on the store. */
export async function viaApiOrStore<T>(values: TargetValues, remote: (api: ApiClient) => Promise<T>, local: (store: Store, config: FleetConfig, context: LocalContext) => Promise<T>): Promise<T> {
  const api = apiClient(values);
  return api === null ? withStore(values, local) : remote(api);
}
