/**
 * Dashboard sign-in (docs/dashboard.md#sign-in), over a real HTTP server and a real SQLite store: the admin or a
 * viewer token is exchanged for an HttpOnly, SameSite=Strict session cookie; the token itself never comes back; a
 * viewer reads but cannot change; writes through the cookie need the session's CSRF header and this origin; the
 * session expires; signing out makes the cookie useless. Bearer tokens keep working as before.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashToken, issueToken } from '../../src/api/services.js';
import { SESSION_TTL_MS } from '../../src/api/sessions.js';
import { parseConfigText } from '../../src/config/load.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { type Served, serveApi, TRANSPORTS } from './transports.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');
const ADMIN = 'test-admin-token-session-0123456789';
const CONFIG = parseConfigText(`
groups:
  - name: web
    fleets: {main: {min: 1, desired: 2}}
`);

for (const transport of TRANSPORTS) describe(`dashboard sessions (${transport})`, () => {
  const store = new SqliteStore(':memory:');
  const clock = { t: T0, now(): number { return this.t; } };
  const uiDir = mkdtempSync(join(tmpdir(), 'fw-ui-'));
  let served: Served;
  let secure = '';
  let base = '';
  let origin = '';
  let viewer = '';
  let agent = '';

  async function call(method: string, path: string, opts: { token?: string; cookie?: string; csrf?: string; origin?: string; body?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> | null; text: string; headers: Headers }> {
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
    if (opts.cookie !== undefined) headers['cookie'] = opts.cookie;
    if (opts.csrf !== undefined) headers['x-fleetwarden-csrf'] = opts.csrf;
    if (opts.origin !== undefined) headers['origin'] = opts.origin;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }) });
    const text = await r.text();
    let body: Record<string, unknown> | null;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = null;
    }
    return { status: r.status, body, text, headers: r.headers };
  }

  async function signIn(token: string): Promise<{ cookie: string; csrf: string; setCookie: string; text: string }> {
    const r = await call('POST', '/v1/session', { body: { token }, origin });
    assert.equal(r.status, 200, r.text);
    const setCookie = r.headers.get('set-cookie') ?? '';
    return { cookie: setCookie.split(';')[0] ?? '', csrf: String(r.body?.['csrf']), setCookie, text: r.text };
  }

  before(async () => {
    viewer = (await issueToken(store, 'viewer', null, 'ops screen', T0)).token;
    agent = (await issueToken(store, 'agent', 'i-a', 'agent i-a', T0)).token;
    mkdirSync(uiDir, { recursive: true });
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>dashboard</title>');
    served = await serveApi({ store, config: CONFIG, clock, live: null, adminTokenHash: hashToken(ADMIN), uiDir }, transport);
    base = served.base;
    origin = served.origin;
    secure = served.secure ? '; Secure' : '';
  });
  after(async () => {
    await served.close();
    await store.close();
  });

  it('signs in with the admin token: an HttpOnly, SameSite=Strict cookie with an expiry, and never the token', async () => {
    const s = await signIn(ADMIN);
    assert.match(s.setCookie, new RegExp(`^fw_session=[\\w-]{40,}; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800${secure}$`));
    assert.ok(!s.text.includes(ADMIN) && !s.setCookie.includes(ADMIN), 'the token is not echoed');
    const who = await call('GET', '/v1/session', { cookie: s.cookie });
    assert.equal(who.status, 200);
    assert.equal(who.body?.['role'], 'admin');
    assert.equal(who.body['csrf'], s.csrf);
    assert.equal((await call('GET', '/v1/status', { cookie: s.cookie })).status, 200);
  });

  it('marks the cookie Secure behind HTTPS (X-Forwarded-Proto)', async () => {
    const r = await fetch(`${base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ token: ADMIN }) });
    assert.match(r.headers.get('set-cookie') ?? '', /; Secure$/);
  });

  it('refuses bad sign-ins: a wrong token (401), an agent token (403), a missing field (400), another origin (403)', async () => {
    assert.equal((await call('POST', '/v1/session', { body: { token: 'nope' } })).status, 401);
    assert.equal((await call('POST', '/v1/session', { body: { token: agent } })).status, 403);
    const missing = await call('POST', '/v1/session', { body: {} });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /"field":"token"/);
    const evil = await call('POST', '/v1/session', { body: { token: ADMIN }, origin: 'https://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('set-cookie'), null);
  });

  it('a write through the cookie needs the CSRF header and this origin; with both it changes the override', async () => {
    const s = await signIn(ADMIN);
    const body = { value: '3', ttl: '1h', reason: 'dashboard test' };
    const put = (o: { csrf?: string; origin?: string }): ReturnType<typeof call> => call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { cookie: s.cookie, body, ...o });
    assert.equal((await put({ origin })).status, 403, 'no CSRF header');
    assert.equal((await put({ csrf: 'x'.repeat(s.csrf.length), origin })).status, 403, 'a wrong CSRF value');
    assert.equal((await put({ csrf: s.csrf })).status, 403, 'no Origin');
    assert.equal((await put({ csrf: s.csrf, origin: 'http://evil.example' })).status, 403, 'another origin');
    assert.equal((await store.overrides(T0)).length, 0, 'nothing changed');
    const ok = await put({ csrf: s.csrf, origin });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await store.overrides(T0)).length, 1);
    assert.equal((await call('DELETE', '/v1/groups/web/overrides/fleets.main.desired', { token: ADMIN })).status, 204);
  });

  it('a viewer reads the dashboard’s routes but changes nothing and sees no tokens, by bearer or by session', async () => {
    assert.equal((await call('GET', '/v1/status', { token: viewer })).status, 200);
    assert.equal((await call('GET', '/v1/windows', { token: viewer })).status, 200);
    assert.equal((await call('GET', '/v1/tokens', { token: viewer })).status, 403);
    const s = await signIn(viewer);
    for (const path of ['/v1/status', '/v1/history', '/v1/overrides', '/v1/controls', '/v1/executions']) assert.equal((await call('GET', path, { cookie: s.cookie })).status, 200, path);
    const put = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { cookie: s.cookie, csrf: s.csrf, origin, body: { value: '3', ttl: '1h', reason: 'viewer tries' } });
    assert.equal(put.status, 403);
    assert.match(put.text, /viewer reads only/);
    assert.equal((await store.overrides(T0)).length, 0);
    assert.equal((await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { token: viewer, body: { value: '3', ttl: '1h', reason: 'x' } })).status, 403);
    assert.equal((await call('GET', '/v1/status', { token: agent })).status, 403, 'an agent token still reads only its own instance');
    // An agent's report or a command's result moves maintenance on; its pending commands carry scripts: not a viewer's.
    for (const [method, path] of [['POST', '/v1/instances/i-a/ack'], ['POST', '/v1/instances/i-a/commands/cmd-1/result'], ['GET', '/v1/instances/i-a/commands']] as const) {
      const body = method === 'POST' ? { body: { version: 1, ports: 'blocked', health: 'fail', state: 'draining' } } : {};
      const byToken = await call(method, path, { token: viewer, ...body });
      assert.equal(byToken.status, 403, `${method} ${path} with a viewer token`);
      assert.match(byToken.text, /viewer reads only/);
      assert.equal((await call(method, path, { cookie: s.cookie, csrf: s.csrf, origin, ...body })).status, 403, `${method} ${path} with a viewer session`);
    }
    assert.equal((await store.agentAcks('web')).size, 0, 'no report was recorded');
  });

  it('revoking the token a session was opened with ends the session; a CSRF header of other bytes is a 403, not an error', async () => {
    const { token } = await issueToken(store, 'viewer', null, 'to revoke', T0);
    const s = await signIn(token);
    assert.equal((await call('GET', '/v1/status', { cookie: s.cookie })).status, 200);
    const odd = 'é'.repeat(s.csrf.length); // as many characters, more bytes
    const put = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { cookie: s.cookie, csrf: odd, origin, body: { value: '3', ttl: '1h', reason: 'x' } });
    assert.equal(put.status, 403);
    assert.equal(await store.revokeTokens({ hash: hashToken(token) }), 1);
    const after = await call('GET', '/v1/status', { cookie: s.cookie });
    assert.equal(after.status, 401);
    assert.match(after.text, /no longer valid: sign in again/);
  });

  it('signing out deletes the session: the same cookie no longer works', async () => {
    const s = await signIn(ADMIN);
    assert.equal((await call('DELETE', '/v1/session', { cookie: s.cookie, origin })).status, 403, 'signing out is a write: CSRF needed');
    const out = await call('DELETE', '/v1/session', { cookie: s.cookie, csrf: s.csrf, origin });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await call('GET', '/v1/status', { cookie: s.cookie })).status, 401);
  });

  it('sessions live in the store: a second server on it accepts them, a restart keeps them, sign-out on one ends them on both', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-sessions-')), 'state.db');
    const open = (st: SqliteStore): Promise<Served> => serveApi({ store: st, config: CONFIG, clock, live: null, adminTokenHash: hashToken(ADMIN), uiDir }, transport);
    const at = async (b: string, method: string, cookie: string, headers: Record<string, string> = {}): Promise<number> => (await fetch(`${b}/v1/session`, { method, headers: { cookie, ...headers } })).status;
    // Two controllers, each with its own connection to one SQLite file (as two processes would have).
    const storeA = new SqliteStore(file);
    const storeB = new SqliteStore(file);
    const a = await open(storeA);
    let b = await open(storeB);
    try {
      const r = await fetch(`${a.base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: a.origin }, body: JSON.stringify({ token: ADMIN }) });
      assert.equal(r.status, 200);
      const { csrf } = (await r.json()) as { csrf: string };
      const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      assert.equal(await at(b.base, 'GET', cookie), 200, 'made by A, accepted by B');
      // B restarts: a new server and a new store connection.
      await b.close();
      await storeB.close();
      const storeB2 = new SqliteStore(file);
      b = await open(storeB2);
      assert.equal(await at(b.base, 'GET', cookie), 200, 'survives a restart');
      assert.equal(await at(b.base, 'DELETE', cookie, { 'x-fleetwarden-csrf': csrf, origin: b.origin }), 204, 'signed out on B');
      assert.equal(await at(a.base, 'GET', cookie), 401, 'refused on A too');
      assert.equal(await at(b.base, 'GET', cookie), 401);
      await b.close();
      await storeB2.close();
    } finally {
      await a.close();
      await storeA.close();
    }
  });

  it('a session expires after its time', async () => {
    const s = await signIn(ADMIN);
    clock.t = T0 + SESSION_TTL_MS - 1;
    assert.equal((await call('GET', '/v1/status', { cookie: s.cookie })).status, 200);
    clock.t = T0 + SESSION_TTL_MS;
    assert.equal((await call('GET', '/v1/status', { cookie: s.cookie })).status, 401);
    clock.t = T0;
  });

  it('GET /v1/changes: a version that moves when the history gets an entry; a long poll answers at once when it already has', async () => {
    const s = await signIn(viewer);
    const v1 = String((await call('GET', '/v1/changes', { cookie: s.cookie })).body?.['version']);
    const same = await call('GET', `/v1/changes?wait=1&since=${encodeURIComponent(v1)}`, { cookie: s.cookie });
    assert.equal(same.body?.['version'], v1, 'nothing new: the same version after the wait');
    assert.equal((await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { token: ADMIN, body: { value: '1', ttl: '1h', reason: 'x' } })).status, 200);
    const started = Date.now();
    const moved = await call('GET', `/v1/changes?wait=30&since=${encodeURIComponent(v1)}`, { cookie: s.cookie });
    assert.notEqual(moved.body?.['version'], v1);
    assert.ok(Date.now() - started < 5000, 'answered at once');
    assert.equal((await call('GET', '/v1/changes', { token: agent })).status, 403);
    await store.removeOverride('web', 'fleets.main.desired');
  });

  it('serves the dashboard page with a strict CSP, and nothing outside its files', async () => {
    const page = await call('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal((await call('GET', '/ui/../../etc/passwd')).status, 404);
    assert.equal((await call('GET', '/ui/index.html.bak')).status, 404);
  });
});
