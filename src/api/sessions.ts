/**
 * Dashboard sessions (docs/dashboard.md#sign-in): a browser exchanges the admin or a viewer token once, at POST
 * /v1/session, for a random session id in an HttpOnly, SameSite=Strict cookie. The token is never kept: only the
 * SHA-256 of the session id is, with the role, who signed in (the token's name, never the token), a per-session
 * CSRF value the page sends back in X-Fleetwarden-CSRF on every write, and an expiry. Sessions live in the store
 * (SessionStore): a restart signs nobody out, every controller on the same store accepts them, and signing out on
 * one deletes the session for all of them.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DashboardSession, SessionStore } from '../ports/index.js';

export const SESSION_COOKIE = 'fw_session';
export const CSRF_HEADER = 'x-fleetwarden-csrf';
/** How long a session lasts after sign-in (it is not extended by use). */
export const SESSION_TTL_MS = 8 * 3_600_000;

export type Session = Omit<DashboardSession, 'idHash'>;

function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

export class Sessions {
  constructor(
    private readonly store: SessionStore,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  /** A new session: its id (for the cookie, shown only now) and the session. Expired sessions are pruned first. */
  /** A new session: it ends after the session TTL, or when the token it is opened with expires (`until`), if sooner. */
  async create(role: Session['role'], who: string, tokenHash: string, now: number, until?: number): Promise<{ id: string; session: Session }> {
    await this.store.pruneSessions(now);
    const id = randomBytes(32).toString('base64url');
    const session: Session = { role, who, tokenHash, csrf: randomBytes(24).toString('base64url'), expiresAt: Math.min(now + this.ttlMs, until ?? Number.POSITIVE_INFINITY) };
    await this.store.putSession({ idHash: hashId(id), ...session });
    return { id, session };
  }

  /** The live session of this id, or null (unknown, signed out or expired). */
  async lookup(id: string, now: number): Promise<Session | null> {
    const s = await this.store.sessionByHash(hashId(id), now);
    if (s === null) return null;
    const { idHash: _hash, ...session } = s;
    return session;
  }

  /** Signs out: the id no longer opens anything, on any controller of this store. */
  remove(id: string): Promise<boolean> {
    return this.store.removeSession(hashId(id));
  }
}

/** Whether the CSRF header the page sent is this session's value (compared in constant time). */
export function csrfMatches(session: Session, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  // Bytes, not characters: a header of as many characters but other bytes is a mismatch, not an error.
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header of a session (or, with maxAgeS 0, the one that clears it). */
export function sessionCookie(id: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
