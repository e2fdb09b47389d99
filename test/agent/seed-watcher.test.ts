/**
 * Seed parity of the agent with the seed's cs-instance-watcher (seed 002): every flag it documents, with its default
 * and meaning; its user-data line run unchanged; the `cs-instance-watcher` entry point; and the preset reaching the
 * agent, so a clonesquad deployment finds its scripts where the seed put them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { TokenFileAuth } from '../../src/agent/auth.js';
import { agentSettings, entryOf } from '../../src/agent/cli.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { issueToken } from '../../src/api/services.js';
import { parseConfigText } from '../../src/config/load.js';
import { AgentCommandRunner } from '../../src/providers/agent/runner.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { fixtureSave } from '../support/fixture-save.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AGENT_BIN = join(ROOT, 'dist/fleetwarden-agent.mjs');
const CLI_BIN = join(ROOT, 'dist/src/cli/main.js');
const T0 = Date.parse('2026-06-01T10:00:00Z');
const quiet = { info: (): void => undefined, error: (): void => undefined };

function script(dir: string, name: string, body: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

describe('the seed watcher’s flags', () => {
  it('are accepted with the seed’s defaults: polling 10 s, stale context 300 s, rotation d,1,7, no force, log on stderr', () => {
    const s = agentSettings(['--api-url', 'http://c:8080', '--config', '/dev/null']);
    assert.deepEqual(
      { pollMs: s.pollMs, staleContextMs: s.staleContextMs, logRotate: s.logRotate, logFile: s.logFile, force: s.force, instanceState: s.instanceState, ports: s.ports, generate: s.generateSystemd },
      { pollMs: 10_000, staleContextMs: 300_000, logRotate: 'd,1,7', logFile: undefined, force: false, instanceState: undefined, ports: [], generate: undefined },
    );
  });

  it('every flag of the seed’s usage line, with a value each', () => {
    const s = agentSettings([
      '--api-polling-period', '5', '--on-draining-block-new-connections-to-ports', '80', '443', '--config', '/dev/null', '--script-dir', '/opt/s',
      '--instance-state', 'draining', '--stale-context-timeout', '60', '--force', 'true', '--log-file', '/tmp/x.log', '--log-file-rotate', 'h,1,24',
      '--generate-systemd', '/tmp/x.service', '--do-not-generate-systemd', 'yes', '--api-url', 'http://c:8080',
    ]);
    assert.deepEqual(
      [s.pollMs, s.ports, s.scriptDir, s.instanceState, s.staleContextMs, s.force, s.logFile, s.logRotate, s.generateSystemd, s.doNotGenerateSystemd],
      [5000, [80, 443], '/opt/s', 'draining', 60_000, true, '/tmp/x.log', 'h,1,24', undefined, true],
    );
    assert.equal(agentSettings(['--api-url', 'http://c:1', '--config', '/dev/null', '--force']).force, true, '--force alone means yes (nargs=?)');
    assert.equal(agentSettings(['--api-url', 'http://c:1', '--config', '/dev/null', '--force=false']).force, false);
  });

  it('bad values are refused naming the flag', () => {
    const base = ['--api-url', 'http://c:1', '--config', '/dev/null'];
    assert.throws(() => agentSettings([...base, '--instance-state', 'sleepy']), /--instance-state: expected one of stopped, starting/);
    assert.throws(() => agentSettings([...base, '--stale-context-timeout', '0']), /--stale-context-timeout: expected seconds from 1/);
    assert.throws(() => agentSettings([...base, '--force', 'maybe']), /--force: expected true or false/);
    assert.throws(() => agentSettings([...base, '--preset', 'acme']), /--preset: expected fleetwarden or clonesquad/);
  });

  it('the seed’s JSON configuration (snake_case keys) is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-seed-cfg-'));
    const file = join(dir, 'cs-instance-watcher.json');
    writeFileSync(file, JSON.stringify({ api_url: 'http://c:8080', api_polling_period: 5, on_draining_block_new_connections_to_ports: [80, 443], stale_context_timeout: 60, force: true, script_dir: '/opt/w.d' }));
    const s = agentSettings(['--config', file]);
    assert.deepEqual([s.apiUrl, s.pollMs, s.ports, s.staleContextMs, s.force, s.scriptDir], ['http://c:8080', 5000, [80, 443], 60_000, true, '/opt/w.d']);
  });

  it('the seed’s user-data line runs unchanged, as cs-instance-watcher and as fleetwarden agent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-seed-line-'));
    const watcher = join(dir, 'cs-instance-watcher');
    symlinkSync(AGENT_BIN, watcher);
    assert.equal(entryOf(watcher), 'cs-instance-watcher');
    const line = (unit: string): string[] => ['--on-draining-block-new-connections-to-ports', '80', '443', '--log-file', join(dir, 'cs-instance-watcher.log'), '--log-file-rotate', 'd,1,10', '--generate-systemd', unit];
    const asWatcher = spawnSync(process.execPath, [watcher, ...line(join(dir, 'cs-instance-watcher.service'))], { encoding: 'utf8' });
    assert.equal(asWatcher.status, 0, asWatcher.stderr);
    const unit = readFileSync(join(dir, 'cs-instance-watcher.service'), 'utf8');
    assert.match(unit, /^Description=cs-instance-watcher \(Fleetwarden agent\)/m);
    assert.equal(/^ExecStart=(.*)$/m.exec(unit)?.[1], `${process.execPath} ${watcher} --on-draining-block-new-connections-to-ports 80 443 --log-file ${join(dir, 'cs-instance-watcher.log')} --log-file-rotate d,1,10`, 'the unit runs the watcher by its own name');
    const asAgent = spawnSync(process.execPath, [CLI_BIN, 'agent', ...line(join(dir, 'fleetwarden-agent.service'))], { encoding: 'utf8' });
    assert.equal(asAgent.status, 0, asAgent.stderr);
    assert.match(readFileSync(join(dir, 'fleetwarden-agent.service'), 'utf8'), /^ExecStart=.* agent --on-draining-block-new-connections-to-ports 80 443 --log-file /m);
  });

  it('--do-not-generate-systemd: no unit is written, the agent runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-seed-nogen-'));
    const unit = join(dir, 'x.service');
    const r = spawnSync(process.execPath, [AGENT_BIN, '--generate-systemd', unit, '--do-not-generate-systemd', '--api-url', 'http://127.0.0.1:39995', '--instance-id', 'i-1', '--config', '/dev/null', '--once', '--log-file', join(dir, 'agent.log')], { encoding: 'utf8', env: { ...process.env, FLEETWARDEN_AGENT_TOKEN: 't' } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(unit));
    assert.match(readFileSync(join(dir, 'agent.log'), 'utf8'), /controller unreachable/, 'it polled');
  });

  it('--stale-context-timeout: the token file is read again once the context is stale, not before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-seed-stale-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'first\n');
    let now = T0;
    const auth = new TokenFileAuth(file, agentSettings(['--api-url', 'http://c:1', '--config', '/dev/null']).staleContextMs, () => now);
    assert.deepEqual(await auth.current(), { token: 'first' });
    writeFileSync(file, 'second\n');
    now += 299_000;
    assert.deepEqual(await auth.current(), { token: 'first' }, 'cached within the default 300 s');
    now += 1000;
    assert.deepEqual(await auth.current(), { token: 'second' }, 'read again after it');
  });
});

describe('the seed watcher’s behaviour flags against a controller', () => {
  let answer: unknown = null;
  let server: Server;
  let url = '';

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(answer === null ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    url = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('--instance-state draining: ports blocked and draining scripts run whatever the controller says, even unreachable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-seed-forced-'));
    script(join(dir, 'draining'), '10-record', `echo "$1 $2" >> ${join(dir, 'ran')}`);
    const drains: boolean[] = [];
    const agent = new Agent({ apiUrl: url, token: 't', instanceId: 'i-a', firewall: { reconcile: (d) => (drains.push(d), Promise.resolve({ changes: [] })) }, scriptDir: dir, eventDir: dir, scriptTimeoutMs: 5000, forcedState: 'draining', log: quiet });
    answer = null; // unreachable
    await agent.poll();
    answer = { state: 'running', drain: false, pendingCommands: [] };
    await agent.poll();
    await agent.idle();
    assert.deepEqual(drains, [true, true]);
    assert.equal(agent.state, 'draining');
    assert.equal(readFileSync(join(dir, 'ran'), 'utf8'), 'draining unknown\n');
  });

  it('with the clonesquad preset, without --force the ports stay open in target groups outside a subfleet (the load balancer drains); --force blocks them; fleetwarden agents always block', async () => {
    answer = { state: 'draining', drain: true, subfleet: null, targetGroups: [{ id: 'arn:tg/web', health: 'draining' }], pendingCommands: [] };
    const run = async (force: boolean, preset: 'clonesquad' | 'fleetwarden' = 'clonesquad'): Promise<boolean[]> => {
      const drains: boolean[] = [];
      const agent = new Agent({ apiUrl: url, token: 't', instanceId: 'i-a', firewall: { reconcile: (d) => (drains.push(d), Promise.resolve({ changes: [] })) }, scriptDir: '/nonexistent', eventDir: '/nonexistent', scriptTimeoutMs: 5000, force, preset, log: quiet });
      await agent.poll();
      return drains;
    };
    assert.deepEqual(await run(false), [false]);
    assert.deepEqual(await run(true), [true]);
    assert.deepEqual(await run(false, 'fleetwarden'), [true], 'Fleetwarden’s own agents keep blocking: no behaviour change for them');
    answer = { state: 'draining', drain: true, subfleet: 'batch', targetGroups: [{ id: 'arn:tg/web', health: 'draining' }], pendingCommands: [] };
    assert.deepEqual(await run(false), [true], 'a subfleet instance always needs it (as the seed)');
  });
});

describe('the preset reaches the agent', () => {
  const store = new SqliteStore(':memory:');
  const clock = { now: (): number => T0 };
  let server: Server;
  let apiUrl = '';
  let token = '';

  before(async () => {
    const config = parseConfigText('preset: clonesquad\ngroups:\n  - name: web\n    fleets: {main: {min: 1}}\n');
    await fixtureSave(store, { group: 'web', at: T0, records: [{ instanceId: 'i-a', group: 'web', state: 'running', since: T0, reason: 'test' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    token = (await issueToken(store, 'agent', 'i-a', 'a', T0)).token;
    server = createApiServer({ store, config, clock, live: null });
    apiUrl = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await store.close();
  });

  it('with preset clonesquad, event scripts are looked for in /etc/cs-ssm/ and state scripts in /etc/cs-instance-watcher.d/', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const h = await runner.runEvent('web', ['i-a'], 'instance-ready-for-shutdown', [], 30_000);
    const agent = new Agent({ apiUrl, token, instanceId: 'i-a', firewall: null, scriptTimeoutMs: 5000, log: quiet });
    assert.equal(agent.scriptDir, '/etc/fleetwarden/agent.d/', 'before the controller has answered: fleetwarden’s');
    await agent.poll();
    await agent.idle();
    const [c] = await store.agentCommands({ ids: [h.id] });
    assert.equal(c?.result?.output, 'no script /etc/cs-ssm/instance-ready-for-shutdown: nothing to do', 'the event script was looked for where the seed puts it');
    assert.equal(agent.scriptDir, '/etc/cs-instance-watcher.d/');
  });

  it('an explicit directory or a preset the agent was told wins over the controller’s', async () => {
    const told = new Agent({ apiUrl, token, instanceId: 'i-a', firewall: null, scriptTimeoutMs: 5000, preset: 'fleetwarden', log: quiet });
    await told.poll();
    assert.deepEqual([told.scriptDir, told.eventDir], ['/etc/fleetwarden/agent.d/', '/etc/fleetwarden/events/']);
    const explicit = new Agent({ apiUrl, token, instanceId: 'i-a', firewall: null, scriptTimeoutMs: 5000, scriptDir: '/opt/states', eventDir: '/opt/events', log: quiet });
    await explicit.poll();
    assert.deepEqual([explicit.scriptDir, explicit.eventDir], ['/opt/states', '/opt/events']);
    assert.equal(agentSettings(['--api-url', 'http://c:1', '--config', '/dev/null'], 'cs-instance-watcher').preset, 'clonesquad', 'run as cs-instance-watcher: the seed’s directories');
  });
});
