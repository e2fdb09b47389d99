/**
 * `POST /v1/auth/iam`: an agent proves its instance with the instance's IAM role and gets a short-lived agent token
 * for that instance only — nothing secret is installed on the instance (the seed's watcher used the role too). The
 * signed request is checked and sent to STS by the AWS provider (sts-login.ts); here: who may log in, replays,
 * whether the instance is managed, and the token.
 *
 * Tokens are ordinary agent tokens in the store (so every controller sharing the store accepts them), with their
 * expiry written into the token itself (`fwr_<expiry seconds>_<random>`): only the hash is stored, so the expiry
 * cannot be changed without changing the hash. Each login removes the expired ones.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AgentIamSettings, OperatorIamSettings } from '../config/config.js';
import { formatInstant } from '../domain/time.js';
import type { GroupStateStore, TokenStore } from '../ports/index.js';
import { type CallerIdentity, callerIdentity, checkSignedLogin, LoginRefused, MAX_SKEW_MS, type SignedLogin } from '../providers/aws/sts-login.js';
import { hashToken, parseBody } from './services.js';

export { LoginRefused };

export const loginBody = z.strictObject({
  method: z.string().max(10),
  url: z.string().max(500),
  headers: z.record(z.string().max(100), z.string().max(8192)),
  body: z.string().max(1000),
});

const LABEL = 'iam ';
const TOKEN = /^fwr_(\d{1,12})_[A-Za-z0-9_-]{43}$/;
/** Logins waiting for STS at once; beyond, 429 (an open route must not become a way to flood STS). */
const MAX_IN_FLIGHT = 32;

/** When an IAM-login token stops being accepted; undefined for any other token. */
export function loginTokenExpiry(token: string): number | undefined {
  const m = TOKEN.exec(token);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** The expiry an IAM-login token's label carries (`… until <instant>`), in epoch ms; NaN when it carries none. */
export function labelExpiry(label: string): number {
  return Date.parse(/ until (\S+)$/.exec(label)?.[1] ?? '');
}

/** The signatures seen while they are fresh enough to be accepted: each is accepted once (per controller process). */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  /** False when `signature` was already used. */
  claim(signature: string, now: number): boolean {
    for (const [s, until] of this.seen) if (until <= now) this.seen.delete(s);
    if (this.seen.has(signature)) return false;
    this.seen.set(signature, now + 2 * MAX_SKEW_MS);
    return true;
  }
}

/** What guards the open login routes: replays, and how many logins wait for STS at once. */
interface LoginGate {
  readonly replay: ReplayGuard;
  /** Logins waiting for STS now. */
  inFlight: number;
}

export interface IamLoginDeps extends LoginGate {
  readonly settings: AgentIamSettings;
}

export interface OperatorLoginDeps extends LoginGate {
  readonly settings: OperatorIamSettings;
}

export type LoginAnswer = { status: 'ok'; instance: string; token: string; expiresAt: string } | { status: 'not-managed'; instance: string };

/** A signed GetCallerIdentity checked (for this server), used once, and sent to STS: who signed it. */
async function signedCaller(gate: LoginGate, body: unknown, o: { readonly serverId: string; readonly stsEndpoint: string | undefined }, now: number): Promise<CallerIdentity> {
  const login: SignedLogin = parseBody(loginBody, body);
  const checked = checkSignedLogin(login, { serverId: o.serverId, stsEndpoint: o.stsEndpoint, now });
  if (!gate.replay.claim(checked.signature, now)) throw new LoginRefused(401, 'this signed request was already used: sign a new one');
  if (gate.inFlight >= MAX_IN_FLIGHT) throw new LoginRefused(429, 'too many logins in progress; try again shortly');
  gate.inFlight++;
  try {
    return await callerIdentity(checked.target, checked.headers, login.body);
  } finally {
    gate.inFlight--;
  }
}

/** A token that carries its expiry (`fwr_<expiry s>_<random>`), stored by hash with a label `iam … until <instant>`. */
async function expiringToken(store: TokenStore, role: 'agent' | 'admin' | 'viewer', instanceId: string | null, label: string, ttlMs: number, now: number): Promise<{ token: string; expiresAt: number }> {
  await pruneExpired(store, now);
  const expiresAt = Math.floor((now + ttlMs) / 1000) * 1000;
  const token = `fwr_${expiresAt / 1000}_${randomBytes(32).toString('base64url')}`;
  await store.putToken({ hash: hashToken(token), role, instanceId, createdAt: now, label: `${LABEL}${label} until ${formatInstant(expiresAt)}` });
  return { token, expiresAt };
}

export async function iamLogin(store: GroupStateStore & TokenStore, deps: IamLoginDeps, body: unknown, now: number, ownHost?: string): Promise<LoginAnswer> {
  const s = deps.settings;
  const serverId = s.serverId ?? ownHost;
  if (serverId === undefined) throw new LoginRefused(404, 'controller.agentIam.serverId is not set, and this API is not on a Lambda function URL (whose domain would be the server id)');
  const id = await signedCaller(deps, body, { serverId, stsEndpoint: s.stsEndpoint }, now);
  if (!s.accounts.includes(id.account)) throw new LoginRefused(403, `account ${id.account} may not log in (controller.agentIam.accounts)`);
  if (s.roles.length > 0 && !s.roles.includes(id.role)) throw new LoginRefused(403, `role ${id.role} may not log in (controller.agentIam.roles)`);
  // An instance profile's session is named after the instance; any other session is a person or a program.
  if (!/^i-[0-9a-f]{8,17}$/.test(id.session)) throw new LoginRefused(403, `the role session ${JSON.stringify(id.session)} is not an EC2 instance's`);
  const managed = (await store.allRecords()).some((r) => r.instanceId === id.session);
  if (!managed) return { status: 'not-managed', instance: id.session };
  const { token, expiresAt } = await expiringToken(store, 'agent', id.session, `${id.role} (${id.account})`, s.tokenTtlMs, now);
  return { status: 'ok', instance: id.session, token, expiresAt: formatInstant(expiresAt) };
}

export interface OperatorLoginAnswer {
  readonly role: 'admin' | 'viewer';
  readonly who: string;
  readonly token: string;
  readonly expiresAt: string;
}

/**
 * An operator's IAM login: the role that signed decides admin or viewer (controller.operatorIam). The server id the
 * request must be signed for is the configured one, else `ownHost` — the function URL's domain as AWS gives it,
 * which a caller cannot choose; with neither, no operator can log in.
 */
export async function operatorLogin(store: TokenStore, deps: OperatorLoginDeps, body: unknown, now: number, ownHost: string | undefined): Promise<OperatorLoginAnswer> {
  const s = deps.settings;
  const serverId = s.serverId ?? ownHost;
  if (serverId === undefined) throw new LoginRefused(404, 'controller.operatorIam.serverId is not set, and this API is not on a Lambda function URL (whose domain would be the server id)');
  const id = await signedCaller(deps, body, { serverId, stsEndpoint: s.stsEndpoint }, now);
  if (!s.accounts.includes(id.account)) throw new LoginRefused(403, `account ${id.account} may not log in (controller.operatorIam.accounts)`);
  const role = s.admins.includes(id.role) ? 'admin' : s.viewers.includes(id.role) ? 'viewer' : null;
  if (role === null) throw new LoginRefused(403, `role ${id.role} may not log in (controller.operatorIam.admins, viewers)`);
  const session = id.session.replace(/[^\w+=,.@-]/g, '?').slice(0, 64);
  const who = `${id.role}/${session} (${id.account})`;
  const { token, expiresAt } = await expiringToken(store, role, null, who, s.tokenTtlMs, now);
  return { role, who, token, expiresAt: formatInstant(expiresAt) };
}

/** Removes IAM-login tokens past their expiry (read back from their label). */
async function pruneExpired(store: TokenStore, now: number): Promise<void> {
  for (const t of await store.tokens()) {
    if (!t.label.startsWith(LABEL)) continue;
    const until = labelExpiry(t.label);
    if (Number.isFinite(until) && until <= now) await store.revokeTokens({ hash: t.hash });
  }
}
