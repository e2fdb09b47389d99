/**
 * The agent's half of the drain handshake against a real API server and store: it applies the goal the controller
 * sets (health answer on a real HTTP port and in a file, firewall — recorded here, real in agent-netns.test.ts),
 * in the order a load balancer expects, runs the take-out/put-back hooks, and reports what it applied; the
 * controller keeps the report, shows it in the instance view, and says whether it confirms the goal. A long poll
 * brings a change to the agent without waiting for its polling period.
 */
import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, type Firewall } from '../../src/agent/agent.js';
import { agentSettings } from '../../src/agent/cli.js';
import { HealthAnswer } from '../../src/agent/health.js';
import { checkView } from '../../src/agent/view.js';
import { instanceJson } from '../../src/api/wire.js';
import { AgentCommandRunner } from '../../src/providers/agent/runner.js';
import { ChangeFeed } from '../../src/api/changes.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { hashToken, issueToken } from '../../src/api/services.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Invocation, WindowExecution } from '../../src/maintenance/model.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');

function execution(inv: Partial<Invocation>): WindowExecution {
  return { id: 'web/w/2026-06-01T10:00:00Z', group: 'web', window: 'w', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status: 'IN_PROGRESS', startedAt: T0, tasks: [{ name: 't', priority: 1, status: 'IN_PROGRESS', targets: ['i-a'], terminated: [], detail: '', invocations: [{ target: 'i-a', status: 'IN_PROGRESS', phase: 'draining', phaseSince: T0, startedAt: T0, runs: 0, outOfService: true, detail: '', ...inv }] }] };
}

describe('agent: the drain handshake against a real API', () => {
  const store = new SqliteStore(':memory:');
  const clock = { t: T0, now(): number { return this.t; } };
  const config = parseConfigText('groups:\n  - name: web\n    fleets: {main: {min: 1}}\n');
  const dir = mkdtempSync(join(tmpdir(), 'fw-agent-hs-'));
  const rules: boolean[] = [];
  /** The order in which the agent changed things: `health fail`, `block`, … */
  const order: string[] = [];
  const changes = new ChangeFeed();
  let health: HealthAnswer;
  let server: Server;
  let port = 0;
  let healthPort = 0;
  let token = '';
  let agent: Agent;
  const firewall: Firewall = {
    reconcile: (block) => {
      const changed = rules.at(-1) !== block;
      rules.push(block);
      if (changed) order.push(block ? 'block' : 'unblock');
      return Promise.resolve({ changes: changed ? [['iptables']] : [] });
    },
  };

  async function save(executions: WindowExecution[] = []): Promise<void> {
    await fixtureSave(store, { group: 'web', at: clock.t, records: [{ instanceId: 'i-a', group: 'web', state: 'running', since: T0, reason: 'test' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [], executions });
    changes.notify();
  }

  async function answer(): Promise<number> {
    return (await fetch(`http://127.0.0.1:${healthPort}/`)).status;
  }

  async function view(): Promise<{ version: string; goal: { ports: string; health: string; version: string }; agent: { ports: string; health: string; version: string; confirmsGoal: boolean } | null }> {
    return (await (await fetch(`http://127.0.0.1:${port}/v1/instances/i-a`, { headers: { authorization: 'Bearer admin' } })).json()) as never;
  }

  before(async () => {
    await save();
    token = (await issueToken(store, 'agent', 'i-a', 'a', T0)).token;
    server = createApiServer({ store, config, clock, live: null, adminTokenHash: hashToken('admin'), changes });
    port = (await listen(server, '127.0.0.1', 0)).port;
    // A free port for the health answer.
    const probe = createApiServer({ store, config, clock, live: null });
    healthPort = (await listen(probe, '127.0.0.1', 0)).port;
    probe.close();
    health = new HealthAnswer({ port: healthPort, host: '127.0.0.1', file: join(dir, 'in-service') });
    await health.start();
    for (const hook of ['take-out', 'put-back']) {
      mkdirSync(join(dir, 'scripts', hook), { recursive: true });
      writeFileSync(join(dir, 'scripts', hook, '10-app'), `#!/bin/sh\necho "$1 $2" >> ${join(dir, 'hooks')}\n`);
      chmodSync(join(dir, 'scripts', hook, '10-app'), 0o755);
    }
    const log = { info: (m: string) => m.startsWith('health answer') && order.push(m.includes('passes') ? 'health pass' : 'health fail'), error: () => undefined };
    agent = new Agent({ apiUrl: `http://127.0.0.1:${port}`, token, instanceId: 'i-a', firewall, health, scriptDir: join(dir, 'scripts'), eventDir: join(dir, 'events'), scriptTimeoutMs: 5000, longPollSeconds: 5, log });
  });

  after(async () => {
    health.close();
    server.closeAllConnections();
    server.close();
    await store.close();
  });

  it('in service: health passes, ports open; the report confirms the goal and is shown in the instance view', async () => {
    await agent.poll();
    assert.equal(await answer(), 200);
    assert.ok(existsSync(join(dir, 'in-service')));
    const v = await view();
    assert.deepEqual(v.goal, { ports: 'open', health: 'pass', version: `l-running-${T0}` });
    assert.deepEqual(v.agent && { ports: v.agent.ports, health: v.agent.health, version: v.agent.version, confirmsGoal: v.agent.confirmsGoal }, { ports: 'open', health: 'pass', version: `l-running-${T0}`, confirmsGoal: true });
    const status = (await (await fetch(`http://127.0.0.1:${port}/v1/status`, { headers: { authorization: 'Bearer admin' } })).json()) as { instances: { instance: string; agent: { ports: string; health: string } | null }[] };
    assert.deepEqual(status.instances.map((i) => [i.instance, i.agent?.ports, i.agent?.health]), [['i-a', 'open', 'pass']], 'status shows what the agent reported');
  });

  it('taken out step by step: health fails first (503, file removed) with the ports still open, then the block and the take-out hook; each step reported', async () => {
    await save([execution({ agent: { ports: 'open', health: 'fail', since: T0 + 1 }, step: 'health' })]);
    await agent.poll();
    assert.equal(await answer(), 503);
    assert.ok(!existsSync(join(dir, 'in-service')));
    assert.equal(rules.at(-1), false, 'not blocked yet: the load balancer must stop routing first');
    let v = await view();
    assert.deepEqual([v.agent?.health, v.agent?.ports, v.agent?.version, v.agent?.confirmsGoal], ['fail', 'open', `m-${T0 + 1}-open-fail`, true]);
    await save([execution({ agent: { ports: 'blocked', health: 'fail', since: T0 + 2 }, step: 'block' })]);
    await agent.poll();
    await agent.idle();
    assert.equal(rules.at(-1), true);
    v = await view();
    assert.deepEqual([v.agent?.ports, v.agent?.confirmsGoal], ['blocked', true]);
    assert.equal(readFileSync(join(dir, 'hooks'), 'utf8'), 'take-out maintenance\n');
    const history = await store.history({ instanceId: 'i-a', limit: 10 });
    assert.ok(history.some((h) => h.type === 'agent' && h.summary === 'agent reports ports blocked, health fail (was ports open, health fail)'), history.map((h) => h.summary).join('\n'));
  });

  it('put back in reverse: ports open (put-back hook) before the health answer passes again', async () => {
    order.length = 0;
    await save([execution({ phase: 'returning', outOfService: false, agent: { ports: 'open', health: 'pass', since: T0 + 3 }, step: 'unfail' })]);
    await agent.poll();
    await agent.idle();
    assert.deepEqual(order, ['unblock', 'health pass']);
    assert.equal(await answer(), 200);
    assert.equal(readFileSync(join(dir, 'hooks'), 'utf8'), 'take-out maintenance\nput-back maintenance\n');
  });

  it('a long poll: the agent waits at the controller and a change reaches it as soon as it is saved', async () => {
    const blocks: boolean[] = [];
    const fresh = new Agent({ apiUrl: `http://127.0.0.1:${port}`, token, instanceId: 'i-a', firewall: { reconcile: (b) => { blocks.push(b); return Promise.resolve({ changes: [] }); } }, scriptDir: join(dir, 'none'), eventDir: join(dir, 'none'), scriptTimeoutMs: 5000, longPollSeconds: 30, log: { info: () => undefined, error: () => undefined } });
    assert.deepEqual(await fresh.poll(), { longPoll: true }, 'the first poll (a plain one) learns the version: the next may wait at the controller');
    const polled = fresh.poll();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(blocks.length, 1, 'the second poll is held at the controller: nothing new to apply');
    await save([execution({ agent: { ports: 'blocked', health: 'fail', since: T0 + 4 }, step: 'inflight' })]);
    const outcome = await polled;
    assert.equal(outcome.longPoll, true);
    assert.equal(blocks.at(-1), true, 'the block arrived with the held poll, long before its 30 s wait');
  });

  it("the agent's own checker reads the instance view as the shared wire schema describes it: nothing refused, the same values", async () => {
    // The agent stays free of zod (its memory); this ties its hand-written checker to src/api/wire.ts.
    await new AgentCommandRunner(store, clock).runScript('web', 'i-a', 'mw-wire-1', 'true', 60_000, { mayRerun: false });
    for (const inv of [undefined, { agent: { ports: 'open' as const, health: 'fail' as const, since: T0 + 7 }, step: 'health' as const }]) {
      await save(inv === undefined ? [] : [execution(inv)]);
      const raw: unknown = await (await fetch(`http://127.0.0.1:${port}/v1/instances/i-a`, { headers: { authorization: 'Bearer admin' } })).json();
      const wire = instanceJson.parse(raw);
      const checked = checkView(raw);
      assert.deepEqual(checked.refused, []);
      assert.deepEqual([checked.state, checked.goal, checked.version, checked.maintenance, checked.drain], [wire.state, wire.goal, wire.version, wire.maintenance.outOfService, wire.drain]);
      assert.deepEqual(checked.commands.map((c) => [c.id, c.kind, c.script, c.timeoutMs]), wire.pendingCommands.map((c) => [c.id, c.kind, c.script, c.timeoutMs]));
      assert.ok(checked.commands.length > 0, 'a pending command is part of what is compared');
    }
  });

  it('a report that does not fit the rules is refused naming the field; an unknown instance is 404', async () => {
    const post = (path: string, body: unknown): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post('/v1/instances/i-a/ack', { version: 'v', ports: 'half-open', health: 'pass', state: null });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(await bad.json()), /"field":"ports"/);
    const admin = (body: unknown): Promise<Response> => fetch(`http://127.0.0.1:${port}/v1/instances/i-zzz/ack`, { method: 'POST', headers: { authorization: 'Bearer admin', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await admin({ version: 'v', ports: 'open', health: 'pass', state: null })).status, 404);
  });

  it('options: --health-port may not be a blocked port; --health-check-url needs --health-port; --long-poll bounded', () => {
    const base = ['--api-url', 'http://c:1', '--instance-id', 'i-1', '--config', '/dev/null'];
    const refused = (args: string[], message: RegExp): void => {
      assert.throws(() => agentSettings([...base, ...args]), (e: Error) => message.test(e.message), args.join(' '));
    };
    refused(['--on-draining-block-new-connections-to-ports', '8080', '--health-port', '8080'], /^--health-port: 8080 is also among the ports blocked/);
    refused(['--health-check-url', 'http://127.0.0.1:8080/health'], /^--health-check-url: only applies with --health-port/);
    refused(['--long-poll', '600'], /^--long-poll: expected whole seconds from 0 to 55/);
    const s = agentSettings([...base, '--health-port', '8081', '--health-check-url', 'http://127.0.0.1:8080/health']);
    assert.deepEqual([s.healthPort, s.healthCheckUrl, s.longPollSeconds], [8081, 'http://127.0.0.1:8080/health', 25]);
  });
});
