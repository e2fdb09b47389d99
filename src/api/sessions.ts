/**
 * Dashboard sessions (docs/dashboard.md#sign-in): a browser exchanges the admin or a viewer token once, at POST
 * /v1/session, for a random session id in an HttpOnly, SameSite=Strict cookie. The token is never kept: only the
 * SHA-256 of the session id is, with the role, who signed in (the token's name, never the token), a per-session
 * CSRF value the page sends back in X-Fleetwarden-CSRF on every write, and an expiry. Sessions live in this
 * controller's memory: signing out deletes the session here, so the cookie stops working at once; a restart signs
 * everybody out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'fw_session';
export const CSRF_HEADER = 'x-fleetwarden-csrf';
/** How long a session lasts after sign-in (it is not extended by use). */
export const SESSION_TTL_MS = 8 * 3_600_000;
/** Bound on live sessions: the oldest is dropped beyond it, so sign-ins cannot grow memory without end. */
const MAX_SESSIONS = 10_000;

export interface Session {
  readonly role: 'admin' | 'viewer';
  readonly who: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

export class Sessions {
  private readonly byHash = new Map<string, Session>();

  constructor(private readonly ttlMs = SESSION_TTL_MS) {}

  /** A new session: its id (for the cookie, shown only now) and the session. */
  create(role: Session['role'], who: string, now: number): { id: string; session: Session } {
    for (const [h, s] of this.byHash) if (s.expiresAt <= now) this.byHash.delete(h);
    while (this.byHash.size >= MAX_SESSIONS) {
      const oldest = this.byHash.keys().next();
      if (oldest.done === true) break;
      this.byHash.delete(oldest.value);
    }
    const id = randomBytes(32).toString('base64url');
    const session: Session = { role, who, csrf: randomBytes(24).toString('base64url'), expiresAt: now + this.ttlMs };
    this.byHash.set(hashId(id), session);
    return { id, session };
  }

  /** The live session of this id, or null (unknown, signed out or expired: an expired one is forgotten). */
  lookup(id: string, now: number): Session | null {
    const h = hashId(id);
    const s = this.byHash.get(h);
    if (s === undefined) return null;
    if (s.expiresAt <= now) {
      this.byHash.delete(h);
      return null;
    }
    return s;
  }

  /** Signs out: the id no longer opens anything. */
  remove(id: string): boolean {
    return this.byHash.delete(hashId(id));
  }
}

/** Whether the CSRF header the page sent is this session's value (compared in constant time). */
export function csrfMatches(session: Session, sent: string | undefined): boolean {
  if (sent === undefined || sent.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(sent), Buffer.from(session.csrf));
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
