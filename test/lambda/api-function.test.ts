/**
 * The API function as deployed: the bundle (dist/lambda/api.mjs) staged with the dashboard files and the
 * configuration as the CDK app stages them, run in its own process behind an emulated function URL, on a DynamoDB
 * table (dynalite) that the workers write. It serves the dashboard, shows what the workers saved, signs a browser in
 * (Secure cookie: function URLs are HTTPS), refuses a bad override without changing anything and records a good one,
 * lets a viewer look but not change, and wakes a long poll when something changes without a tick to tell it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DynamoStore } from '../../src/store/dynamodb/store.js';
import { type ApiFunction, startApiFunction } from './api-function-fixture.js';

describe('the API function, bundled, behind a function URL', () => {
  let fn: ApiFunction;
  let base = '';
  let origin = '';
  let store: DynamoStore;
  let admin = '';
  let viewer = '';
  let agent = '';

  before(async () => {
    fn = await startApiFunction();
    ({ base, origin, store, admin, viewer, agent } = fn);
  });

  after(() => {
    fn.stop();
  });

  async function call(method: string, path: string, o: { token?: string; cookie?: string; csrf?: string; body?: unknown } = {}): Promise<{ status: number; json: Record<string, unknown> | null; text: string; headers: Headers }> {
    const headers: Record<string, string> = { origin };
    if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
    if (o.cookie !== undefined) headers['cookie'] = o.cookie;
    if (o.csrf !== undefined) headers['x-fleetwarden-csrf'] = o.csrf;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }) });
    const text = await r.text();
    let json: Record<string, unknown> | null;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = null;
    }
    return { status: r.status, json, text, headers: r.headers };
  }

  async function signIn(token: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const r = await call('POST', '/v1/session', { body: { token } });
    assert.equal(r.status, 200, r.text);
    const setCookie = r.headers.get('set-cookie') ?? '';
    return { cookie: setCookie.split(';')[0] ?? '', csrf: String(r.json?.['csrf']), setCookie };
  }

  it('serves the dashboard from the files bundled beside it, and nothing without a token', async () => {
    const page = await call('GET', '/');
    assert.equal(page.status, 200, fn.output());
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.text, /<script[^>]+src="\/ui\/app\.js"/);
    assert.equal((await call('GET', '/ui/app.js')).status, 200);
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/v1/status')).status, 401);
  });

  it('shows what the workers saved in the table', async () => {
    const r = await call('GET', '/v1/status', { token: admin });
    assert.equal(r.status, 200, r.text);
    const instances = r.json?.['instances'] as { instance: string; state: string }[];
    assert.deepEqual(instances.map((i) => `${i.instance} ${i.state}`), ['i-0000000000000000a running', 'i-0000000000000000b stopped']);
    const history = await call('GET', '/v1/history?instance=i-0000000000000000a', { token: admin });
    assert.equal((history.json?.['entries'] as unknown[]).length, 1);
  });

  it('signs a browser in with a Secure session cookie; a viewer looks but cannot change', async () => {
    const s = await signIn(viewer);
    assert.match(s.setCookie, /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    assert.equal((await call('GET', '/v1/status', { cookie: s.cookie })).status, 200);
    const put = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { cookie: s.cookie, csrf: s.csrf, body: { value: '2', ttl: '1h', reason: 'viewer tries' } });
    assert.equal(put.status, 403);
    assert.deepEqual(await store.overrides(Date.now()), []);
  });

  it('refuses a bad override naming the field and changing nothing; records a good one in the table and its history', async () => {
    const s = await signIn(admin);
    const bad = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { cookie: s.cookie, csrf: s.csrf, body: { value: 'lots', ttl: '1h', reason: 'more' } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /"field":"value"/);
    assert.deepEqual(await store.overrides(Date.now()), []);
    const good = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', { cookie: s.cookie, csrf: s.csrf, body: { value: '2', ttl: '1h', reason: 'more' } });
    assert.equal(good.status, 200, good.text);
    assert.deepEqual((await store.overrides(Date.now())).map((o) => `${o.group} ${o.key} ${JSON.stringify(o.value)}`), ['web fleets.main.desired {"kind":"absolute","value":2}']);
    const history = await store.history({ group: 'web', limit: 5 });
    assert.ok(history.some((h) => h.type === 'override' && h.summary.includes('fleets.main.desired')), JSON.stringify(history));
    assert.equal((await call('DELETE', '/v1/groups/web/overrides/fleets.main.desired', { token: admin })).status, 204);
  });

  it('an agent reads only its own instance; a long poll with no tick to wake it sees a change by looking at the table again', async () => {
    assert.equal((await call('GET', '/v1/instances/i-0000000000000000a', { token: agent })).status, 200);
    assert.equal((await call('GET', '/v1/instances/i-0000000000000000b', { token: agent })).status, 403);
    const s = await signIn(viewer);
    const v1 = String((await call('GET', '/v1/changes', { cookie: s.cookie })).json?.['version']);
    const poll = call('GET', `/v1/changes?wait=15&since=${encodeURIComponent(v1)}`, { cookie: s.cookie });
    await new Promise((r) => setTimeout(r, 500));
    // Another process (the CLI, a second API instance) changes the table.
    await store.setControl({ instanceId: 'i-0000000000000000b', kind: 'unstoppable', until: Date.now() + 3_600_000, reason: 'audit' }, Date.now());
    const moved = await poll;
    assert.equal(moved.status, 200);
    assert.notEqual(moved.json?.['version'], v1, 'the poll answered with the change, not after its wait with the old version');
  });
});
