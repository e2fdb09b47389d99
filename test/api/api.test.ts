import { FIXTURE_OWNER, fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { openApi, type RequestLog } from '../../src/api/server.js';
import { type Served, serveApi, TRANSPORTS } from './transports.js';
import { hashToken, issueToken } from '../../src/api/services.js';
import type { InstanceRecord } from '../../src/domain/model.js';
import { AgentCommandRunner } from '../../src/providers/agent/runner.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { DirectoryObjectStore } from '../../src/store/objects/objects.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const T0 = Date.parse('2026-06-01T10:00:00Z');
const ADMIN = 'test-admin-token-0123456789';
const CONFIG = parseConfigText(`
groups:
  - name: web
    fleets: {main: {min: 1, desired: 2}}
    maintenance:
      windows:
        - name: patch
          description: Daily patch
          schedule: cron(0 10 * * ? *)
          durationHours: 1
  - name: api
    fleets: {main: {min: 1}}
  - name: erp
    workload:
      state: stopped
      tierTag: Role
      tiers:
        - { name: DB, start: { sequence: 0 }, stop: { sequence: 10 } }
        - { name: App, start: { sequence: 10 }, stop: { sequence: 0 }, bypassFile: { path: /etc/keep } }
`);

function rec(id: string, state: InstanceRecord['state'], group = 'web'): InstanceRecord {
  return { instanceId: id, group, state, since: T0 - 60_000, reason: 'test' };
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

for (const transport of TRANSPORTS) describe(`HTTP API (${transport})`, () => {
  const store = new SqliteStore(':memory:');
  // A clock the test moves both ways (a VirtualClock only goes forward).
  const clock = { t: T0, now(): number { return this.t; }, set(t: number): void { this.t = t; } };
  const logs: RequestLog[] = [];
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'fw-api-objects-')));
  let served: Served;
  let base = '';
  let agentA = '';
  let agentB = '';

  async function call(method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const text = await r.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: r.status, body: parsed, text, headers: r.headers };
  }

  function fields(a: Answer): string[] {
    return ((a.body as { error?: { fields?: { field: string }[] } }).error?.fields ?? []).map((f) => f.field);
  }

  before(async () => {
    await fixtureSave(store, { group: 'web', at: T0, records: [rec('i-a', 'running'), rec('i-b', 'draining')], transitions: [], history: [{ at: T0, group: 'web', instanceId: 'i-a', type: 'transition', summary: 'stopped → starting' }], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    await fixtureSave(store, { group: 'web', at: T0, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [], executions: [{ id: 'web/patch/2026-06-01T10:00:00Z', group: 'web', window: 'patch', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status: 'FAILED', startedAt: T0, endedAt: T0 + 60_000, tasks: [{ name: 'yum', priority: 1, status: 'FAILED', targets: ['i-a', 'i-b'], terminated: ['i-b'], detail: 'x', invocations: [{ target: 'i-a', status: 'FAILED', phase: 'done', phaseSince: T0, startedAt: T0, runs: 1, exitCode: 3, outOfService: true, detail: 'exit 3; left out of service', output: 'no space left', outputKey: 'executions/web/patch/x/yum/i-a-1.log' }] }] }] });
    await fixtureSave(store, { group: 'api', at: T0, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [], problems: [{ source: 'instance', subject: 'i-z', field: 'fleetwarden:subfleet-name', value: 'blue.green', reason: 'a subfleet name is letters, digits, _ and - only; instance left alone until fixed', since: T0 - 5_000 }] });
    await store.releaseLease('api', FIXTURE_OWNER); // no controller holds api (the /metrics test says so)
    agentA = (await issueToken(store, 'agent', 'i-a', 'agent i-a', T0)).token;
    agentB = (await issueToken(store, 'agent', 'i-b', 'agent i-b', T0)).token;
    served = await serveApi({ store, config: CONFIG, clock, live: null, adminTokenHash: hashToken(ADMIN), log: (e) => logs.push(e), objects }, transport);
    base = served.base;
  });

  after(async () => {
    await served.close();
    await store.close();
  });

  it('/healthz answers without a token; everything else needs one (401 with a Bearer challenge)', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    for (const path of ['/v1/status', '/openapi.json', '/metrics', '/v1/instances/i-a', '/v1/history']) {
      const r = await call('GET', path);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    }
    assert.equal((await call('GET', '/v1/status', 'not-a-token')).status, 401);
    assert.equal((await call('GET', '/v1/status', `${ADMIN}x`)).status, 401, 'a token that is a prefix/extension of the admin token is refused');
    assert.equal((await call('GET', '/v1/status', ADMIN)).status, 200);
  });

  it('an agent token reads and posts only for its own instance (403 otherwise) and cannot use admin routes', async () => {
    const own = await call('GET', '/v1/instances/i-a', agentA);
    assert.equal(own.status, 200);
    assert.equal((own.body as { state: string }).state, 'running');
    assert.equal((await call('GET', '/v1/instances/i-b', agentA)).status, 403);
    assert.equal((await call('GET', '/v1/instances/i-a/commands', agentB)).status, 403);
    assert.equal((await call('POST', '/v1/instances/i-a/commands/x/result', agentB, { outcome: 'success', exitCode: 0, output: '' })).status, 403);
    for (const path of ['/v1/status', '/v1/history', '/v1/overrides', '/metrics', '/v1/tokens']) assert.equal((await call('GET', path, agentA)).status, 403, path);
    assert.equal((await call('PUT', '/v1/instances/i-a/controls/unstoppable', agentA, { ttl: '1h', reason: 'mine' })).status, 403, 'an agent cannot set controls, even on itself');
    assert.equal((await call('GET', '/v1/instances/i-b', ADMIN)).status, 200, 'the admin reads any instance');
  });

  it('status and /metrics show each group’s problems: what, where, why and since when', async () => {
    const status = (await call('GET', '/v1/status', ADMIN)).body as { groups: { group: string; problems: unknown[]; lastError: unknown }[] };
    assert.deepEqual(status.groups.find((g) => g.group === 'api'), { group: 'api', problems: [{ source: 'instance', subject: 'i-z', field: 'fleetwarden:subfleet-name', value: 'blue.green', reason: 'a subfleet name is letters, digits, _ and - only; instance left alone until fixed', since: '2026-06-01T09:59:55Z' }], lastError: null });
    assert.deepEqual(status.groups.find((g) => g.group === 'web')?.problems, []);
    const metrics = (await call('GET', '/metrics', ADMIN)).text;
    assert.match(metrics, /^fleetwarden_problems\{group="api"\} 1$/m);
    assert.match(metrics, /^fleetwarden_problems\{group="web"\} 0$/m);
  });

  it('a revoked agent token is refused at once', async () => {
    const { token, id } = await issueToken(store, 'agent', 'i-a', 'temp', T0);
    assert.equal((await call('GET', '/v1/instances/i-a', token)).status, 200);
    assert.equal((await call('DELETE', `/v1/tokens/${id}`, ADMIN)).status, 204);
    assert.equal((await call('GET', '/v1/instances/i-a', token)).status, 401);
  });

  it('malformed ids, queries and bodies get 400 naming the field, and change nothing', async () => {
    assert.deepEqual(fields(await call('GET', '/v1/instances/not-an-id', ADMIN)), ['instance']);
    assert.deepEqual(fields(await call('GET', '/v1/history?limit=0', ADMIN)), ['limit']);
    assert.deepEqual(fields(await call('GET', '/v1/history?instance=%3Bdrop', ADMIN)), ['instance']);
    assert.deepEqual(fields(await call('GET', '/v1/windows?from=yesterday', ADMIN)), ['from']);
    assert.deepEqual(fields(await call('GET', '/v1/history?type=transition,reboot', ADMIN)), ['type']);
    assert.deepEqual(fields(await call('GET', '/v1/history?from=yesterday', ADMIN)), ['from']);
    assert.deepEqual(fields(await call('GET', '/v1/history?to=2026-13-01T00:00:00Z', ADMIN)), ['to']);
    assert.deepEqual(fields(await call('GET', '/v1/history?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z', ADMIN)), ['to']);
    const bad = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, { value: '50%', ttl: 'soon', reason: '' });
    assert.equal(bad.status, 400);
    assert.deepEqual(fields(bad), ['reason']);
    assert.deepEqual(fields(await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, { value: '50%', ttl: 'soon', reason: 'x' })), ['ttl']);
    assert.deepEqual(fields(await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, { value: 'lots', ttl: '1h', reason: 'x' })), ['value']);
    assert.deepEqual(fields(await call('PUT', '/v1/groups/web/overrides/fleets.main.colour', ADMIN, { value: '1', ttl: '1h', reason: 'x' })), ['value'], 'an unknown key is refused');
    assert.deepEqual(fields(await call('PUT', '/v1/groups/nope/overrides/fleets.main.desired', ADMIN, { value: '1', ttl: '1h', reason: 'x' })), ['group']);
    const unknownKey = await call('GET', '/v1/groups/web/config?key=no.such', ADMIN);
    assert.equal(unknownKey.status, 400, 'an unknown key is the caller\'s mistake, not a server error');
    assert.deepEqual(fields(unknownKey), ['key']);
    assert.match(unknownKey.text, /unknown setting \\"no\.such\\"; settings start with fleets\., caps\./);
    const huge = await call('PUT', '/v1/groups/web/overrides/maintenance.startAhead', ADMIN, { value: `${'9'.repeat(30)}h`, ttl: '1h', reason: 'x' });
    assert.deepEqual([huge.status, fields(huge)], [400, ['value']], 'an override is bounded as the file is');
    assert.match(huge.text, /must be at most 1d/);
    assert.deepEqual(fields(await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, { value: '1', ttl: '1h', reason: 'x', extra: 1 })), ['body']);
    assert.deepEqual(fields(await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, '{not json')), ['body']);
    assert.deepEqual(fields(await call('PUT', '/v1/instances/i-a/controls/invincible', ADMIN, { ttl: '1h', reason: 'x' })), ['kind']);
    assert.deepEqual(fields(await call('POST', '/v1/tokens', ADMIN, { instance: 'web-1' })), ['instance']);
    assert.deepEqual((await call('GET', '/v1/overrides', ADMIN)).body, { overrides: [] }, 'nothing was applied');
    assert.deepEqual((await call('GET', '/v1/controls', ADMIN)).body, { controls: [] });
    assert.equal((await call('DELETE', '/v1/status', ADMIN)).status, 405);
    assert.equal((await call('GET', '/v2/nothing', ADMIN)).status, 404);
  });

  it('an override applies to the effective configuration until its TTL, then disappears', async () => {
    const set = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, { value: '50%', ttl: '10m', reason: 'load test' });
    assert.equal(set.status, 200, set.text);
    const explain = await call('GET', '/v1/groups/web/config?key=fleets.main.desired', ADMIN);
    const s = (explain.body as { settings: { value: string; layer: string; expiresAt: string; layers: { layer: string }[] }[] }).settings[0]!;
    assert.equal(s.value, '50%');
    assert.equal(s.layer, 'override');
    assert.equal(s.expiresAt, '2026-06-01T10:10:00Z');
    assert.deepEqual(s.layers.map((l) => l.layer), ['default', 'file', 'window', 'override'], 'every layer is shown, the 10:00 window included');
    clock.set(T0 + 10 * 60_000);
    assert.deepEqual((await call('GET', '/v1/overrides', ADMIN)).body, { overrides: [] });
    const later = (await call('GET', '/v1/groups/web/config?key=fleets.main.desired', ADMIN)).body as { settings: { layer: string }[] };
    assert.equal(later.settings[0]?.layer, 'window');
    clock.set(T0);
  });

  it('controls are set with a TTL and a reason, listed, shown on the instance, and lifted', async () => {
    const r = await call('PUT', '/v1/instances/i-a/controls/unstoppable', ADMIN, { ttl: 3600, reason: 'investigating' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((await call('GET', '/v1/controls', ADMIN)).body, { controls: [{ instance: 'i-a', kind: 'unstoppable', until: '2026-06-01T11:00:00Z', reason: 'investigating' }] });
    assert.deepEqual((await call('GET', '/v1/instances/i-a', agentA)).body && ((await call('GET', '/v1/instances/i-a', agentA)).body as { controls: unknown[] }).controls, [{ kind: 'unstoppable', until: '2026-06-01T11:00:00Z', reason: 'investigating' }]);
    assert.equal((await call('DELETE', '/v1/instances/i-a/controls/unstoppable', ADMIN)).status, 204);
    assert.equal((await call('DELETE', '/v1/instances/i-a/controls/unstoppable', ADMIN)).status, 404);
  });

  it('the instance view carries the window period; status, history and windows answer in their documented shapes', async () => {
    const view = (await call('GET', '/v1/instances/i-a', agentA)).body as { group: string; window: { period: string; active: { name: string }[] }; pendingCommands: unknown[] };
    assert.equal(view.group, 'web');
    assert.equal(view.window.period, 'in-window');
    assert.deepEqual(view.window.active.map((w) => w.name), ['patch']);
    const status = (await call('GET', '/v1/status?group=web', ADMIN)).body as { instances: { instance: string; state: string }[]; leases: unknown[] };
    assert.deepEqual(status.instances.map((i) => [i.instance, i.state]), [['i-a', 'running'], ['i-b', 'draining']]);
    const history = (await call('GET', '/v1/history?instance=i-a&limit=50', ADMIN)).body as { entries: { summary: string }[] };
    assert.equal(history.entries.at(-1)?.summary, 'stopped → starting');
    const page = (await call('GET', '/v1/history?instance=i-a&limit=1', ADMIN)).body as { entries: unknown[]; next: number };
    assert.equal(page.entries.length, 1);
    const rest = (await call('GET', `/v1/history?instance=i-a&limit=50&before=${page.next}`, ADMIN)).body as { entries: unknown[] };
    assert.equal(rest.entries.length, history.entries.length - 1, 'the next page continues after the first');
    const windows = (await call('GET', '/v1/windows?group=web&days=2', ADMIN)).body as { periods: { start: string; description: string | null }[] };
    assert.deepEqual(windows.periods.map((p) => [p.start, p.description]), [['2026-06-01T10:00:00Z', 'Daily patch'], ['2026-06-02T10:00:00Z', 'Daily patch']]);
  });

  it('GET /v1/history filters by type (repeated or comma-separated) and time range in the store, and pages on within them', async () => {
    const H = Date.parse('2030-01-01T00:00:00Z');
    // 12 entries of group hist, one an hour: window on multiples of 3, otherwise error / retry.
    await store.appendHistory(Array.from({ length: 12 }, (_, n) => ({ at: H + n * 3_600_000, group: 'hist', instanceId: null, type: n % 3 === 0 ? ('window' as const) : n % 3 === 1 ? ('error' as const) : ('retry' as const), summary: `h${n}` })));
    type Page = { entries: { summary: string; type: string }[]; next: number | null };
    const get = async (q: string): Promise<Page> => {
      const r = await call('GET', `/v1/history?group=hist&${q}`, ADMIN);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as Page;
    };
    const first = await get('type=window&limit=2');
    assert.deepEqual(first.entries.map((e) => e.summary), ['h9', 'h6'], 'a full page of windows, not a filtered page');
    assert.deepEqual((await get(`type=window&limit=2&before=${String(first.next)}`)).entries.map((e) => e.summary), ['h3', 'h0']);
    assert.deepEqual((await get('type=error,retry&limit=3')).entries.map((e) => e.summary), ['h11', 'h10', 'h8']);
    assert.deepEqual((await get('type=error&type=retry&limit=3')).entries.map((e) => e.summary), ['h11', 'h10', 'h8'], 'repeated');
    assert.deepEqual((await get('from=2030-01-01T02:00:00Z&to=2030-01-01T05:00:00Z')).entries.map((e) => e.summary), ['h4', 'h3', 'h2'], 'from inclusive, to exclusive');
    assert.deepEqual((await get('type=window&from=2030-01-01T02:00:00Z&to=2030-01-01T08:00:00Z')).entries.map((e) => e.summary), ['h6', 'h3']);
    const viewer = (await issueToken(store, 'viewer', null, 'hist viewer', T0)).token;
    assert.equal((await call('GET', '/v1/history?type=window', viewer)).status, 200, 'a viewer may filter too');
  });

  it('serves one invocation’s full output from the object store: text/plain, nosniff, bounded, to admin and viewer; 404 naming what is missing', async () => {
    const exec = encodeURIComponent('web/patch/2026-06-01T10:00:00Z');
    const url = (task: string, instance: string): string => `/v1/executions/${exec}/tasks/${encodeURIComponent(task)}/invocations/${instance}/output`;
    const key = 'executions/web/patch/x/yum/i-a-1.log';
    const full = `${'line of yum output\n'.repeat(300)}<script>alert(1)</script>\nno space left\n`;
    await objects.put(key, full);
    const ok = await call('GET', url('yum', 'i-a'), ADMIN);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.text, full, 'all of it, beyond the 2 500-character preview');
    assert.equal(ok.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(ok.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(ok.headers.get('x-fleetwarden-truncated'), null);
    const viewer = (await issueToken(store, 'viewer', null, 'output viewer', T0)).token;
    assert.equal((await call('GET', url('yum', 'i-a'), viewer)).text, full, 'a viewer reads it too');
    assert.equal((await call('GET', url('yum', 'i-a'), agentA)).status, 403, 'not an agent');
    const missing = async (u: string, message: RegExp): Promise<void> => {
      const r = await call('GET', u, ADMIN);
      assert.equal(r.status, 404, u);
      assert.match(r.text, message);
    };
    await missing(`/v1/executions/${encodeURIComponent('web/patch/2026-06-09T10:00:00Z')}/tasks/yum/invocations/i-a/output`, /no execution web\/patch\/2026-06-09T10:00:00Z/);
    await missing(url('apt', 'i-a'), /has no task \\"apt\\"/);
    await missing(url('yum', 'i-b'), /no invocation on i-b/);
    assert.deepEqual(fields(await call('GET', url('yum', 'not-an-id'), ADMIN)), ['instance']);
    // Bigger than the bound: the end is kept (it says how the task ended), and the full size is given.
    const big = `${'x'.repeat(1024 * 1024)}THE END\n`;
    await objects.put(key, big);
    const cut = await call('GET', url('yum', 'i-a'), ADMIN);
    assert.equal(cut.status, 200);
    assert.equal(cut.headers.get('x-fleetwarden-truncated'), String(big.length));
    assert.equal(cut.text.length, 1024 * 1024);
    assert.ok(cut.text.endsWith('THE END\n'));
    await objects.delete([key]);
    await missing(url('yum', 'i-a'), /the output executions\/web\/patch\/x\/yum\/i-a-1\.log is not in the object store/);
  });

  it('pull-mode events: the runner queues, the agent fetches and answers once, the runner reads the result', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const handle = await runner.runEvent('web', ['i-a', 'i-b'], 'instance-ready-for-shutdown', ["it's"], 30_000);
    const pending = (await call('GET', '/v1/instances/i-a/commands', agentA)).body as { commands: { id: string; event: string; args: string[] }[] };
    assert.deepEqual(pending.commands.map((c) => [c.id, c.event, c.args]), [[handle.id, 'instance-ready-for-shutdown', ["it's"]]]);
    assert.deepEqual(fields(await call('POST', `/v1/instances/i-a/commands/${handle.id}/result`, agentA, { outcome: 'present', exitCode: 0, output: '' })), ['outcome'], 'an event cannot answer like a bypass check');
    const posted = await call('POST', `/v1/instances/i-a/commands/${handle.id}/result`, agentA, { outcome: 'success', exitCode: 0, output: 'drained' });
    assert.deepEqual(posted.body, { recorded: true });
    assert.deepEqual((await call('POST', `/v1/instances/i-a/commands/${handle.id}/result`, agentA, { outcome: 'failed', exitCode: 1, output: '' })).body, { recorded: false }, 'a result is recorded once');
    assert.deepEqual(((await call('GET', '/v1/instances/i-a/commands', agentA)).body as { commands: unknown[] }).commands, [], 'answered: no longer pending');
    let results = await runner.results([handle]);
    assert.deepEqual(results.events.map((e) => [e.instanceId, e.ok]), [['i-a', true]]);
    assert.deepEqual(results.finished, [], 'i-b has not answered yet');
    clock.set(T0 + 30_000 + 60_001);
    assert.deepEqual(((await call('GET', '/v1/instances/i-b/commands', agentB)).body as { commands: unknown[] }).commands, [], 'too late to run');
    results = await runner.results([handle]);
    assert.deepEqual(results.events.map((e) => [e.instanceId, e.ok, e.detail]), [['i-a', true, 'agent: success (exit 0)'], ['i-b', false, 'no agent answered in time']]);
    assert.deepEqual(results.finished, [handle.id]);
    clock.set(T0);
  });

  it('bypass checks through the agent report present, absent or unknown', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const handle = await runner.checkBypass('web', ['i-a'], '/etc/fw-bypass', 'linux');
    assert.equal((await call('POST', `/v1/instances/i-a/commands/${handle.id}/result`, agentA, { outcome: 'present', exitCode: 0, output: '' })).status, 200);
    assert.deepEqual((await runner.results([handle])).bypass.map((b) => [b.instanceId, b.result]), [['i-a', 'present']]);
  });

  it('executions: listed with task outcomes, shown with invocations; a malformed id is 400, an unknown one 404', async () => {
    const list = (await call('GET', '/v1/executions?group=web', ADMIN)).body as { executions: { id: string; tasks: { failed: number; notRun: number; outOfService: string[] }[] }[] };
    assert.deepEqual(list.executions.map((e) => [e.id, e.tasks[0]?.failed, e.tasks[0]?.notRun, e.tasks[0]?.outOfService]), [['web/patch/2026-06-01T10:00:00Z', 1, 1, ['i-a']]]);
    const one = (await call('GET', `/v1/executions/${encodeURIComponent('web/patch/2026-06-01T10:00:00Z')}`, ADMIN)).body as { tasks: { invocations: { instance: string; exitCode: number; output: string; outputKey: string; outOfService: boolean }[] }[] };
    assert.deepEqual(one.tasks[0]?.invocations.map((i) => [i.instance, i.exitCode, i.output, i.outputKey, i.outOfService]), [['i-a', 3, 'no space left', 'executions/web/patch/x/yum/i-a-1.log', true]]);
    assert.deepEqual(fields(await call('GET', '/v1/executions/..%2Fetc', ADMIN)), ['id']);
    assert.equal((await call('GET', `/v1/executions/${encodeURIComponent('web/patch/2026-06-02T10:00:00Z')}`, ADMIN)).status, 404);
    assert.equal((await call('GET', '/v1/executions', agentA)).status, 403);
  });

  it('cancelling an execution: admin only, a reason required; 202, then 200 for a repeat; 409 once it has ended; 404 unknown', async () => {
    const id = 'api/maint/2026-06-02T10:00:00Z';
    await fixtureSave(store, { group: 'api', at: T0, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [], executions: [{ id, group: 'api', window: 'maint', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status: 'IN_PROGRESS', startedAt: T0, tasks: [] }] });
    await store.releaseLease('api', FIXTURE_OWNER); // no controller holds api (the /metrics test says so)
    const path = `/v1/executions/${encodeURIComponent(id)}/cancel`;
    assert.equal((await call('POST', path, agentA, { reason: 'x' })).status, 403);
    assert.deepEqual(fields(await call('POST', path, ADMIN, { reason: ' ' })), ['reason']);
    assert.deepEqual(await store.cancelRequests('api'), [], 'a refused request changes nothing');
    const first = await call('POST', path, ADMIN, { reason: 'the patch breaks the app' });
    assert.equal(first.status, 202);
    assert.deepEqual((first.body as { cancel: unknown }).cancel, { by: 'api admin token (FLEETWARDEN_ADMIN_TOKEN)', at: '2026-06-01T10:00:00Z', reason: 'the patch breaks the app' });
    assert.deepEqual((await store.cancelRequests('api')).map((c) => [c.execution, c.by, c.reason]), [[id, 'api admin token (FLEETWARDEN_ADMIN_TOKEN)', 'the patch breaks the app']]);
    assert.ok((await store.history({ limit: 5, group: 'api' })).some((h) => h.summary === `cancel of window execution ${id} requested by api admin token (FLEETWARDEN_ADMIN_TOKEN): the patch breaks the app`));
    const again = await call('POST', path, ADMIN, { reason: 'again' });
    assert.equal(again.status, 200, 'idempotent');
    assert.equal((again.body as { cancel: { reason: string } }).cancel.reason, 'the patch breaks the app', 'the first request stands');
    const ended = await call('POST', `/v1/executions/${encodeURIComponent('web/patch/2026-06-01T10:00:00Z')}/cancel`, ADMIN, { reason: 'late' });
    assert.equal(ended.status, 409);
    assert.deepEqual((ended.body as { error: { code: string; message: string } }).error, { code: 'conflict', message: 'id: execution web/patch/2026-06-01T10:00:00Z already ended FAILED at 2026-06-01T10:01:00Z: nothing to cancel', fields: [{ field: 'id', reason: 'execution web/patch/2026-06-01T10:00:00Z already ended FAILED at 2026-06-01T10:01:00Z: nothing to cancel' }] });
    assert.equal((await call('POST', `/v1/executions/${encodeURIComponent('web/patch/2026-06-09T10:00:00Z')}/cancel`, ADMIN, { reason: 'x' })).status, 404);
    const doc = openApi() as { paths: Record<string, Record<string, { 'x-fleetwarden-auth': string; responses: Record<string, unknown> }>> };
    const route = doc.paths['/v1/executions/{id}/cancel']?.['post'];
    assert.deepEqual([route?.['x-fleetwarden-auth'], Object.keys(route?.responses ?? {}).sort()], ['admin', ['200', '202', '400', '401', '403', '404', '409']]);
  });

  it('/metrics speaks the Prometheus text format', async () => {
    const r = await call('GET', '/metrics', ADMIN);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^# TYPE fleetwarden_instances gauge$/m);
    assert.match(r.text, /^fleetwarden_instances\{group="web",state="running"\} 1$/m);
    assert.match(r.text, /^fleetwarden_instances\{group="web",state="draining"\} 1$/m);
    assert.match(r.text, /^fleetwarden_group_lease_held\{group="api"\} 0$/m);
  });

  it('the OpenAPI document lists every route, and every documented GET route is served', async () => {
    const doc = (await call('GET', '/openapi.json', ADMIN)).body as { openapi: string; paths: Record<string, Record<string, { 'x-fleetwarden-auth': string }>> };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc, openApi());
    await objects.put('executions/web/patch/x/yum/i-a-1.log', 'the full output');
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (methods['get'] === undefined) continue;
      const concrete = path.replace('{instance}', 'i-a').replace('{group}', path.includes('/workload/') ? 'erp' : 'web').replace('{action}', 'start').replace('{task}', 'yum').replace('{id}', encodeURIComponent('web/patch/2026-06-01T10:00:00Z'));
      const r = await call('GET', concrete, ADMIN);
      assert.ok(r.status === 200, `${path} → ${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.ok(doc.paths['/v1/groups/{group}/overrides/{key}']?.['put'], 'the override route is documented');
  });

  it('workload start/stop: GET answers the ordered plan and changes nothing; POST sets workload.state for a TTL; bad input is 400 naming the field', async () => {
    await fixtureSave(store, { group: 'erp', at: T0, records: [{ ...rec('i-erp-db', 'stopped', 'erp'), tier: 'DB' }, { ...rec('i-erp-app', 'stopped', 'erp'), tier: 'App' }, { ...rec('i-erp-x', 'stopped', 'erp') }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    const overridesBefore = (await call('GET', '/v1/overrides', ADMIN)).text;
    const plan = await call('GET', '/v1/groups/erp/workload/start', ADMIN);
    assert.equal(plan.status, 200, plan.text);
    const body = plan.body as { plan: { steps: { sequence: number; tiers: { name: string; instances: { instance: string; action: string }[] }[] }[]; untiered: { instance: string; why: string }[] } };
    assert.deepEqual(body.plan.steps.map((st) => [st.sequence, st.tiers.map((t) => [t.name, t.instances.map((i) => `${i.instance}:${i.action}`)])]), [[0, [['DB', ['i-erp-db:start']]]], [10, [['App', ['i-erp-app:start']]]]]);
    assert.deepEqual(body.plan.untiered.map((u) => [u.instance, u.why]), [['i-erp-x', 'no Role tag: in no tier, left alone']]);
    assert.equal((await call('GET', '/v1/overrides', ADMIN)).text, overridesBefore, 'a plan changes nothing');
    const stop = (await call('GET', '/v1/groups/erp/workload/stop', ADMIN)).body as { plan: { steps: { tiers: { name: string; notes: string[] }[] }[] } };
    assert.deepEqual(stop.plan.steps.map((st) => st.tiers[0]?.name), ['App', 'DB']);
    assert.deepEqual(stop.plan.steps[0]?.tiers[0]?.notes, ['bypass file /etc/keep (linux) checked in each guest before its stop']);
    const act = await call('POST', '/v1/groups/erp/workload/start', ADMIN, { ttl: '3h', reason: 'month-end' });
    assert.equal(act.status, 200, act.text);
    assert.deepEqual((act.body as { override: unknown }).override, { group: 'erp', key: 'workload.state', value: 'running', expiresAt: '2026-06-01T13:00:00Z', reason: 'month-end' });
    const explain = (await call('GET', '/v1/groups/erp/config?key=workload.state', ADMIN)).body as { settings: { value: string; layer: string }[] };
    assert.deepEqual([explain.settings[0]?.value, explain.settings[0]?.layer], ['running', 'override']);
    assert.deepEqual(fields(await call('POST', '/v1/groups/erp/workload/start', ADMIN, { ttl: 'soon', reason: 'x' })), ['ttl']);
    assert.deepEqual(fields(await call('POST', '/v1/groups/erp/workload/start', ADMIN, { ttl: '1h' })), ['reason']);
    assert.deepEqual(fields(await call('GET', '/v1/groups/erp/workload/pause', ADMIN)), ['action']);
    assert.deepEqual(fields(await call('GET', '/v1/groups/web/workload/start', ADMIN)), ['group'], 'web is sized, not tiered');
    assert.equal((await call('POST', '/v1/groups/erp/workload/stop', agentA, { ttl: '1h', reason: 'x' })).status, 403);
    assert.equal((await call('DELETE', '/v1/groups/erp/overrides/workload.state', ADMIN)).status, 204);
  });

  it('tokens never appear in the request log', () => {
    const text = JSON.stringify(logs);
    assert.ok(logs.length > 20);
    for (const t of [ADMIN, agentA, agentB]) assert.ok(!text.includes(t));
    assert.ok(logs.some((l) => l.status === 401) && logs.some((l) => l.status === 403));
  });

  it('refuses a body over 256 KiB with 413, naming the limit, and changes nothing', async () => {
    const before = JSON.stringify(await store.overrides(T0));
    const r = await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', ADMIN, JSON.stringify({ value: '3', ttl: '1h', reason: 'x'.repeat(300 * 1024) }));
    assert.equal(r.status, 413);
    assert.match(r.text, /exceeds 262144 bytes/);
    assert.equal(JSON.stringify(await store.overrides(T0)), before);
  });

  // node:http only: a function URL never delivers such a path.
  if (transport === 'node:http') it('answers a request target that is no URL with 400, and goes on serving', async () => {
    const { host, port } = new URL(base);
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), host.split(':')[0] ?? '127.0.0.1', () => sock.end('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString()));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal((await call('GET', '/healthz')).status, 200, 'still serving');
  });
});
