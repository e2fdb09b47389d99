/**
 * The wire schemas (src/api/wire.ts) against the server that answers with them: /openapi.json documents every
 * route's answer from its zod schema, and real answers of a server on SQLite decode with the route's schema
 * without losing a field (the CLI prints what it decodes: a field the schema forgot would vanish from --json).
 */
import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { parseConfigText } from '../../src/config/load.js';
import { openApi, routeResponse } from '../../src/api/server.js';
import { type Served, serveApi, TRANSPORTS } from './transports.js';
import { hashToken, issueToken } from '../../src/api/services.js';
import { errorBody } from '../../src/api/wire.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');
const ADMIN = 'test-admin-token-wire-0123456789';
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
  - name: erp
    workload:
      state: stopped
      tierTag: Role
      tiers:
        - { name: DB, start: { sequence: 0 }, stop: { sequence: 10 } }
        - { name: App, start: { sequence: 10 }, stop: { sequence: 0 } }
`);
const EXECUTION = 'web/patch/2026-06-01T10:00:00Z';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: { schemas: Record<string, unknown> } };

for (const transport of TRANSPORTS) describe(`wire schemas: the API documents and answers with them (${transport})`, () => {
  const store = new SqliteStore(':memory:');
  let served: Served;
  let base = '';
  let agent = '';

  before(async () => {
    const none = { transitions: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };
    await fixtureSave(store, {
      ...none,
      group: 'web',
      at: T0,
      records: [
        { instanceId: 'i-a', group: 'web', state: 'running', since: T0 - 60_000, reason: 'test' },
        { instanceId: 'i-b', group: 'web', state: 'stopped', since: T0 - 60_000, reason: 'test', errorUntil: T0 + 60_000 },
      ],
      history: [{ at: T0, group: 'web', instanceId: 'i-a', type: 'transition', summary: 'stopped → starting', data: { from: 'stopped' } }],
      problems: [{ source: 'instance', subject: 'i-z', field: 'fleetwarden:subfleet-name', value: 'blue.green', reason: 'bad name', since: T0 - 5_000 }],
      executions: [
        {
          id: EXECUTION, group: 'web', window: 'patch', description: 'Daily patch', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status: 'FAILED', startedAt: T0, endedAt: T0 + 60_000,
          tasks: [{ name: 'yum', priority: 1, status: 'FAILED', startedAt: T0, endedAt: T0 + 60_000, targets: ['i-a', 'i-b'], terminated: ['i-b'], skipped: [], detail: 'x', invocations: [{ target: 'i-a', status: 'FAILED', phase: 'done', phaseSince: T0, startedAt: T0, endedAt: T0 + 30_000, runs: 1, exitCode: 3, outOfService: true, detail: 'exit 3', output: 'no space left', outputKey: 'executions/web/patch/x/yum/i-a-1.log' }] }],
        },
      ],
    });
    await fixtureSave(store, { ...none, group: 'erp', at: T0, history: [], records: [{ instanceId: 'i-erp-db', group: 'erp', state: 'stopped', since: T0, reason: 'test', tier: 'DB' }, { instanceId: 'i-erp-x', group: 'erp', state: 'stopped', since: T0, reason: 'test' }] });
    agent = (await issueToken(store, 'agent', 'i-a', 'agent i-a', T0)).token;
    served = await serveApi({ store, config: CONFIG, clock: { now: () => T0 }, live: null, adminTokenHash: hashToken(ADMIN) }, transport);
    base = served.base;
  });

  after(async () => {
    await served.close();
    await store.close();
  });

  /** Calls `method path` (a concrete path of the route template `route`) and decodes the answer with the route's schema. */
  async function answer(method: string, route: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; json: unknown; decoded: unknown }> {
    const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const json = JSON.parse(await r.text()) as unknown;
    const schema = r.ok ? routeResponse(method, route) : errorBody;
    assert.ok(schema instanceof z.ZodType, `${method} ${route} has a JSON schema`);
    const decoded = schema.safeParse(json);
    assert.ok(decoded.success, `${method} ${path} → ${r.status}: ${decoded.error?.message ?? ''}\n${JSON.stringify(json).slice(0, 500)}`);
    // Decoding drops what the schema does not name: equal means the schema names every field the server sends.
    assert.deepEqual(decoded.data, json, `${method} ${path}: the schema names every field of the answer`);
    return { status: r.status, json, decoded: decoded.data };
  }

  it('/openapi.json documents each route’s answer from its zod schema: JSON, text (/metrics) or no body (204)', () => {
    const doc = openApi() as Doc;
    let json = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const response = routeResponse(method.toUpperCase(), path);
        assert.ok(response !== undefined, `${method} ${path} is a route`);
        const ok = Object.entries(op.responses).filter(([code]) => code.startsWith('2'));
        assert.ok(ok.length > 0, `${method} ${path} documents its success`);
        for (const [code, r] of ok) {
          if (response === 'none') assert.deepEqual([code, r.content], ['204', undefined], `${method} ${path}`);
          else if (response === 'text') assert.deepEqual(Object.keys(r.content ?? {}), ['text/plain'], `${method} ${path}`);
          else {
            assert.deepEqual(r.content?.['application/json']?.schema, z.toJSONSchema(response, { io: 'output' }), `${method} ${path} ${code} documents its wire schema`);
            json++;
          }
        }
      }
    }
    assert.ok(json >= 20, `every JSON route documented (${json})`);
    assert.deepEqual(doc.components.schemas['Error'], z.toJSONSchema(errorBody, { io: 'output' }));
    const statusSchema = doc.paths['/v1/status']?.['get']?.responses['200']?.content?.['application/json']?.schema as { required: string[] };
    assert.deepEqual(statusSchema.required, ['at', 'instances', 'leases', 'groups'], 'a real schema, not an empty one');
    assert.equal(doc.paths['/v1/tokens']?.['post']?.responses['201']?.content?.['application/json'] !== undefined, true, 'POST /v1/tokens answers 201');
  });

  it('real answers decode with their route’s schema, every field named', async () => {
    const status = (await answer('GET', '/v1/status', '/v1/status')).json as { instances: unknown[]; groups: { workload?: unknown; problems: unknown[] }[] };
    assert.equal(status.instances.length, 4);
    assert.ok(status.groups.some((g) => g.workload !== undefined) && status.groups.some((g) => g.problems.length === 1), 'workload and problems present');
    assert.equal(((await answer('GET', '/v1/history', '/v1/history')).json as { entries: unknown[] }).entries.length, 1);
    await answer('GET', '/v1/groups/{group}/config', '/v1/groups/web/config');
    assert.ok(((await answer('GET', '/v1/windows', '/v1/windows')).json as { periods: unknown[] }).periods.length > 0);
    await answer('PUT', '/v1/groups/{group}/overrides/{key}', '/v1/groups/web/overrides/fleets.main.desired', { value: '3', ttl: '1h', reason: 'wire test' });
    assert.equal(((await answer('GET', '/v1/overrides', '/v1/overrides')).json as { overrides: unknown[] }).overrides.length, 1);
    await answer('PUT', '/v1/instances/{instance}/controls/{kind}', '/v1/instances/i-a/controls/unstoppable', { ttl: '1h', reason: 'wire test' });
    assert.equal(((await answer('GET', '/v1/controls', '/v1/controls')).json as { controls: unknown[] }).controls.length, 1);
    assert.equal((await answer('POST', '/v1/tokens', '/v1/tokens', { instance: 'i-b' })).status, 201);
    assert.equal(((await answer('GET', '/v1/tokens', '/v1/tokens')).json as { tokens: unknown[] }).tokens.length, 2);
    const plan = (await answer('GET', '/v1/groups/{group}/workload/{action}', '/v1/groups/erp/workload/start')).json as { plan: { steps: unknown[]; untiered: unknown[] } };
    assert.ok(plan.plan.steps.length > 0 && plan.plan.untiered.length === 1);
    assert.equal(((await answer('GET', '/v1/executions', '/v1/executions')).json as { executions: unknown[] }).executions.length, 1);
    await answer('GET', '/v1/executions/{id}', `/v1/executions/${encodeURIComponent(EXECUTION)}`);
    await answer('POST', '/v1/instances/{instance}/ack', '/v1/instances/i-a/ack', { version: 'v1', ports: 'open', health: 'pass', state: 'running' }, agent);
    const view = (await answer('GET', '/v1/instances/{instance}', '/v1/instances/i-a', undefined, agent)).json as { agent: unknown; controls: unknown[] };
    assert.ok(view.agent !== null && view.controls.length === 1, 'the agent’s report and the control are in the view');
    await answer('GET', '/v1/instances/{instance}/commands', '/v1/instances/i-a/commands', undefined, agent);
  });

  it('error answers decode with the error schema, fields included', async () => {
    const bad = await answer('PUT', '/v1/groups/{group}/overrides/{key}', '/v1/groups/web/overrides/fleets.main.desired', { value: '3', ttl: 'forever', reason: '' });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.decoded as z.infer<typeof errorBody>).error.fields?.map((f) => f.field).sort(), ['reason']);
    assert.equal((await answer('GET', '/v1/executions/{id}', `/v1/executions/${encodeURIComponent('web/patch/2026-06-09T10:00:00Z')}`)).status, 404);
    assert.equal((await answer('GET', '/v1/status', '/v1/status', undefined, 'not-a-token')).status, 401);
  });
});
