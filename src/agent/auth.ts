/**
 * How the agent gets its bearer token. A fixed token (`--token-file`, for hosts off AWS), or — with no secret on
 * the instance — its IAM role, as Vault's AWS auth does: the agent signs `sts:GetCallerIdentity` with the role's
 * temporary credentials (IMDSv2) and the controller's server id, and sends the signed request to the controller
 * (`POST /v1/auth/iam`), which forwards it to STS, learns `arn:aws:sts::ACCOUNT:assumed-role/ROLE/i-…`, and answers
 * with a short-lived token for that instance only — or a quiet "not managed", on which the agent idles.
 */
import { existsSync, readFileSync } from 'node:fs';
import { imdsRoleCredentials, IdentityError, type RoleCredentials } from './identity.js';
import { type SignedRequest, signCallerIdentity } from './sigv4.js';
import { httpFetch } from './http.js';

export type AuthAnswer = { readonly token: string } | { readonly idle: string };

export interface AgentAuth {
  /** The bearer token to use now, or why there is none (the agent idles this poll). Throws when unreachable. */
  current(): Promise<AuthAnswer>;
  /** The controller refused `token` (401): it is not used again. */
  refused(token: string): void;
}

export class StaticToken implements AgentAuth {
  private readonly token: string;
  constructor(token: string) {
    this.token = token;
  }
  current(): Promise<AuthAnswer> {
    return Promise.resolve({ token: this.token });
  }
  refused(): void {
    /* an operator's token from the environment: nothing to renew */
  }
}

/** An operator's token in a file: read again once the context is stale, or after a refusal (a rotated token is picked up). */
export class TokenFileAuth implements AgentAuth {
  private readonly file: string;
  private readonly staleContextMs: number;
  private readonly now: () => number;
  private cached: { token: string; until: number } | null = null;

  constructor(file: string, staleContextMs: number, now: () => number) {
    this.file = file;
    this.staleContextMs = staleContextMs;
    this.now = now;
  }

  current(): Promise<AuthAnswer> {
    const now = this.now();
    if (this.cached === null || now >= this.cached.until) {
      const token = existsSync(this.file) ? readFileSync(this.file, 'utf8').trim() : '';
      if (token === '') return Promise.resolve({ idle: `no agent token in ${this.file}` });
      this.cached = { token, until: now + this.staleContextMs };
    }
    return Promise.resolve({ token: this.cached.token });
  }

  refused(): void {
    this.cached = null;
  }
}

/** The STS endpoint an instance in `region` signs for: the regional one (STS's own recommendation). */
export function regionalStsEndpoint(region: string): string {
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`;
}

/** The region of an AWS STS host (`sts.eu-west-1.amazonaws.com`), us-east-1 for the global one, else undefined. */
export function stsRegionOf(url: string): string | undefined {
  const host = new URL(url).hostname;
  if (host === 'sts.amazonaws.com') return 'us-east-1';
  return /^sts(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$/.exec(host)?.[1];
}

export interface IamAuthOptions {
  readonly apiUrl: string;
  readonly imdsEndpoint: string;
  /** The audience bound into the signature; the controller's `controller.agentIam.serverId`. */
  readonly serverId: string;
  /** Where the signed request is meant to go [the instance region's STS]; the controller forwards it there. */
  readonly stsEndpoint?: string | undefined;
  /** Signing region when the endpoint does not tell [the instance's region]. */
  readonly stsRegion?: string | undefined;
  /** How long a "not managed" or a refusal stands before the agent asks again (--stale-context-timeout). */
  readonly staleContextMs: number;
  readonly now: () => number;
  readonly fetchTimeoutMs?: number;
  /** This instance, as the metadata service tells it: the proven one must be the same. */
  readonly instanceId: string;
}

export class IamAuth implements AgentAuth {
  private readonly o: IamAuthOptions;
  private token: { value: string; renewAt: number; expiresAt: number } | null = null;
  private idle: { why: string; until: number } | null = null;

  constructor(options: IamAuthOptions) {
    this.o = options;
  }

  refused(token: string): void {
    if (this.token?.value === token) this.token = null;
  }

  async current(): Promise<AuthAnswer> {
    const now = this.o.now();
    if (this.token !== null && now < this.token.renewAt) return { token: this.token.value };
    if (this.idle !== null && now < this.idle.until) return { idle: this.idle.why };
    this.idle = null;
    try {
      return await this.login(now);
    } catch (err) {
      // Renewal failed (controller or metadata service down): a token still valid is used meanwhile.
      if (this.token !== null && now < this.token.expiresAt) return { token: this.token.value };
      throw err;
    }
  }

  private idleFor(why: string, now: number): AuthAnswer {
    this.token = null;
    this.idle = { why, until: now + this.o.staleContextMs };
    return { idle: why };
  }

  private async login(now: number): Promise<AuthAnswer> {
    let creds: RoleCredentials;
    try {
      creds = await imdsRoleCredentials(this.o.imdsEndpoint);
    } catch (err) {
      // No role and no token: nothing to prove who we are with. Idle quietly; a role may be attached later.
      if (err instanceof IdentityError && err.missing) return this.idleFor(`${err.message} and no agent token (--token-file): idle`, now);
      throw err;
    }
    const endpoint = this.o.stsEndpoint ?? regionalStsEndpoint(creds.region);
    const region = this.o.stsRegion ?? stsRegionOf(endpoint) ?? creds.region;
    const signed: SignedRequest = signCallerIdentity(endpoint, region, creds, this.o.serverId, now);
    const r = await httpFetch(`${this.o.apiUrl.replace(/\/+$/, '')}/v1/auth/iam`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signed),
      signal: AbortSignal.timeout(this.o.fetchTimeoutMs ?? 10_000),
    });
    const text = await r.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      /* a proxy's page: reported below by status */
    }
    // Busy or failing (429, 5xx): asked again at the next poll. Any other refusal stands for the stale-context period.
    if (r.status >= 500 || r.status === 429) throw new Error(`IAM login: HTTP ${r.status}`);
    if (!r.ok) {
      const message = (body['error'] as { message?: unknown } | undefined)?.message;
      return this.idleFor(`IAM login refused: HTTP ${r.status}${typeof message === 'string' ? ` ${message.slice(0, 300)}` : ''}`, now);
    }
    const instance = typeof body['instance'] === 'string' ? body['instance'] : null;
    if (body['status'] === 'not-managed') return this.idleFor(`the controller does not manage ${instance ?? 'this instance'}: idle`, now);
    const token = body['token'];
    const expiresAt = typeof body['expiresAt'] === 'string' ? Date.parse(body['expiresAt']) : NaN;
    if (body['status'] !== 'ok' || typeof token !== 'string' || !Number.isFinite(expiresAt)) throw new Error('IAM login: the controller answered without a token');
    if (instance !== this.o.instanceId) return this.idleFor(`the role's credentials prove ${instance ?? '(no instance)'}, but this instance is ${this.o.instanceId}: idle`, now);
    // Renewed at four fifths of its life, so a slow controller never leaves the agent without one.
    this.token = { value: token, expiresAt, renewAt: now + Math.max(1000, (expiresAt - now) * 0.8) };
    return { token };
  }
}
