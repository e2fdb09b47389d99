/**
 * The agent's pieces without root: options and configuration file, log rotation, systemd unit, IMDSv2 identity,
 * scripts by the exit-code table, and the polling logic against a real API server (the firewall is recorded here;
 * agent-netns.test.ts runs it for real).
 */
import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Agent, type Firewall } from '../../src/agent/agent.js';
import { agentSettings, parseAgentArgs, systemdQuote, systemdUnit } from '../../src/agent/cli.js';
import { imdsInstanceId } from '../../src/agent/identity.js';
import { AgentLog, parseRotate } from '../../src/agent/log.js';
import { FileJournal, runEventScript } from '../../src/agent/scripts.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { hashToken, issueToken } from '../../src/api/services.js';
import { parseConfigText } from '../../src/config/load.js';
import type { InstanceRecord } from '../../src/domain/model.js';
import { AgentCommandRunner } from '../../src/providers/agent/runner.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AGENT_BIN = join(ROOT, 'dist/fleetwarden-agent.mjs');
const T0 = Date.parse('2026-06-01T10:00:00Z');

function script(dir: string, name: string, body: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

describe('agent options', () => {
  it('the ports flag takes every following value, or a comma list; durations are seconds', () => {
    assert.deepEqual(parseAgentArgs(['--on-draining-block-new-connections-to-ports', '80', '443', '--api-url', 'http://x:1']).ports, ['80', '443']);
    assert.deepEqual(parseAgentArgs(['--on-draining-block-new-connections-to-ports=80,443']).ports, ['80', '443']);
    const s = agentSettings(['--api-url', 'http://c:8080', '--instance-id', 'i-1', '--api-polling-period', '0.5', '--on-draining-block-new-connections-to-ports', '80', '443', '--config', '/dev/null']);
    assert.equal(s.pollMs, 500);
    assert.deepEqual(s.ports, [80, 443]);
    assert.equal(s.logRotate, 'd,1,7');
  });

  it('bad options are refused naming the option', () => {
    const cases: [string[], RegExp][] = [
      [['--instance-id', 'i-1'], /^--api-url: is required/],
      [['--api-url', 'ftp://x'], /^--api-url: expected http/],
      [['--api-url', 'http://x:1', '--api-polling-period', '0'], /^--api-polling-period: expected seconds/],
      [['--api-url', 'http://x:1', '--on-draining-block-new-connections-to-ports', '80', '99999'], /^--on-draining-block-new-connections-to-ports: /],
      [['--api-url', 'http://x:1', '--log-file-rotate', 'fortnight'], /^--log-file-rotate: expected when,interval,backups/],
      [['--api-url', 'http://x:1', '--instance-id', 'web;rm'], /^--instance-id: /],
      [['--api-url', 'http://x:1', '--bogus'], /^--bogus: unknown option/],
      [['--api-url', 'http://x:1', '--config', '/nonexistent/agent.yaml'], /^--config: no file/],
    ];
    for (const [args, message] of cases) assert.throws(() => agentSettings([...args, ...(args.includes('--config') ? [] : ['--config', '/dev/null'])]), (e: Error) => message.test(e.message), args.join(' '));
  });

  it('an existing configuration file is read (keys named like the flags); flags win; unknown keys are named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-agent-cfg-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, 'api-url: http://from-file:8080\napi-polling-period: 2\non-draining-block-new-connections-to-ports: [80, 443]\ninstance-id: i-file\n');
    const s = agentSettings(['--config', file, '--instance-id', 'i-flag']);
    assert.deepEqual([s.apiUrl, s.pollMs, s.ports, s.instanceId], ['http://from-file:8080', 2000, [80, 443], 'i-flag']);
    writeFileSync(file, 'api-url: http://x:1\ncolour: blue\n');
    assert.throws(() => agentSettings(['--config', file]), /agent\.yaml: colour: unknown option/);
  });

  it('--generate-systemd writes a unit running the same options, quoted for systemd, and exits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-agent-unit-'));
    const unit = join(dir, 'fleetwarden-agent.service');
    const r = spawnSync(process.execPath, [AGENT_BIN, '--api-url', 'http://c:8080', '--on-draining-block-new-connections-to-ports', '80', '443', '--script-dir', '/opt/my scripts', '--generate-systemd', unit, '--config', '/dev/null'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(unit, 'utf8');
    assert.match(text, /^\[Service\]$/m);
    assert.match(text, /^Restart=always$/m);
    const exec = /^ExecStart=(.*)$/m.exec(text)?.[1] ?? '';
    assert.ok(exec.startsWith(`${process.execPath} ${AGENT_BIN} --api-url http://c:8080 --on-draining-block-new-connections-to-ports 80 443 --script-dir "/opt/my scripts"`), exec);
    assert.ok(!exec.includes('generate-systemd'));
    assert.equal(systemdQuote('50%'), '50%%');
    assert.equal(systemdQuote('a "b" $HOME'), '"a \\"b\\" $$HOME"');
    assert.ok(!systemdUnit(['--once', '--api-url', 'x'], ['node']).includes('--once'));
  });
});

describe('agent log rotation', () => {
  it('rotates on time into dated files and keeps only the last N', () => {
    assert.deepEqual(parseRotate('d,1,7'), { intervalMs: 86_400_000, backups: 7 });
    assert.deepEqual(parseRotate('H,6,2'), { intervalMs: 6 * 3_600_000, backups: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'fw-agent-log-'));
    const file = join(dir, 'agent.log');
    let now = T0;
    const log = new AgentLog(file, parseRotate('h,1,2'), () => now);
    for (let i = 0; i < 5; i++) {
      log.info(`hour ${i}`);
      now += 3_600_000;
    }
    log.info('last');
    const rotated = readdirSync(dir).filter((n) => n.startsWith('agent.log.')).sort();
    assert.deepEqual(rotated, ['agent.log.2026-06-01_13-00-00', 'agent.log.2026-06-01_14-00-00'], 'two backups kept, the oldest removed');
    assert.match(readFileSync(join(dir, 'agent.log.2026-06-01_14-00-00'), 'utf8'), /hour 4/);
    assert.match(readFileSync(file, 'utf8'), /^2026-06-01T15:00:00\.000Z INFO last$/m);
  });

  it('a log file that is not a regular file (/dev/null) is written to, never rotated away', () => {
    let now = Date.now() + 30 * 86_400_000;
    const log = new AgentLog('/dev/null', parseRotate('s,1,1'), () => now);
    log.info('one');
    now += 5000;
    log.info('two');
    assert.ok(statSync('/dev/null').isCharacterDevice(), '/dev/null is still the device');
  });
});

describe('agent scripts', () => {
  it('event scripts follow the exit-code table: absent ok, not executable fails, exit code, time limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-agent-ev-'));
    assert.equal((await runEventScript(dir, 'instance-ready-for-shutdown', [], 5000)).outcome, 'success');
    script(dir, 'instance-ready-for-shutdown', 'exit 0', 0o644);
    assert.equal((await runEventScript(dir, 'instance-ready-for-shutdown', [], 5000)).outcome, 'failed');
    script(dir, 'instance-ready-for-shutdown', 'echo "[$1] [$2]"; exit 3');
    const r = await runEventScript(dir, 'instance-ready-for-shutdown', ["it's $(reboot)", 'b c'], 5000);
    assert.deepEqual([r.outcome, r.exitCode], ['failed', 3]);
    assert.equal(r.output.trim(), "[it's $(reboot)] [b c]", 'arguments arrive as they are, never through a shell');
    script(dir, 'instance-ready-for-operation', 'sleep 30 & sleep 30');
    const slow = await runEventScript(dir, 'instance-ready-for-operation', [], 300);
    assert.equal(slow.outcome, 'failed');
    assert.match(slow.output, /killed after 300 ms/);
    assert.equal((await runEventScript(dir, '../../bin/sh', [], 300)).outcome, 'failed', 'an event name cannot leave the directory');
  });
});

describe('IMDSv2 identity', () => {
  let server: Server;
  let url = '';
  const seen: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      if (req.method === 'PUT' && req.url === '/latest/api/token' && req.headers['x-aws-ec2-metadata-token-ttl-seconds'] !== undefined) {
        res.end('session-token');
      } else if (req.method === 'GET' && req.url === '/latest/meta-data/instance-id' && req.headers['x-aws-ec2-metadata-token'] === 'session-token') {
        res.end('i-0123456789abcdef0');
      } else {
        res.writeHead(401).end(); // IMDSv2 required: a request without the session token is refused
      }
    });
    url = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
  });

  after(() => server.close());

  it('reads the instance id with a session token (IMDSv1 requests are never made)', async () => {
    assert.equal(await imdsInstanceId(url), 'i-0123456789abcdef0');
    assert.deepEqual(seen, ['PUT /latest/api/token', 'GET /latest/meta-data/instance-id']);
  });

  it('an unreachable metadata service is a clear error suggesting --instance-id', async () => {
    await assert.rejects(imdsInstanceId('http://127.0.0.1:39998', 200, 2), /cannot read the instance id .*IMDSv2.*--instance-id/);
  });
});

describe('agent polling against a real API', () => {
  const store = new SqliteStore(':memory:');
  const clock = { t: T0, now(): number { return this.t; } };
  const config = parseConfigText('groups:\n  - name: web\n    fleets: {main: {min: 1}}\n');
  const dir = mkdtempSync(join(tmpdir(), 'fw-agent-poll-'));
  const calls: boolean[] = [];
  const firewall: Firewall = {
    reconcile: (draining) => {
      const changed = calls.at(-1) !== draining;
      calls.push(draining);
      return Promise.resolve({ changes: changed ? [['iptables']] : [] });
    },
  };
  const logLines: string[] = [];
  let server: Server;
  let port = 0;
  let token = '';
  let agent: Agent;

  async function setState(state: InstanceRecord['state']): Promise<void> {
    await fixtureSave(store, { group: 'web', at: clock.t, records: [{ instanceId: 'i-a', group: 'web', state, since: clock.t, reason: 'test' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
  }

  async function startApi(): Promise<void> {
    server = createApiServer({ store, config, clock, live: null, adminTokenHash: hashToken('admin') });
    port = (await listen(server, '127.0.0.1', port)).port;
  }

  before(async () => {
    await setState('running');
    token = (await issueToken(store, 'agent', 'i-a', 'a', T0)).token;
    await startApi();
    script(join(dir, 'scripts', 'draining'), '10-record', `echo "$1 $2" >> ${join(dir, 'state-changes')}`);
    script(join(dir, 'events'), 'instance-ready-for-shutdown', `echo "shutdown $1" >> ${join(dir, 'events-run')}; exit 0`);
    agent = new Agent({ apiUrl: `http://127.0.0.1:${port}`, token, instanceId: 'i-a', firewall, scriptDir: join(dir, 'scripts'), eventDir: join(dir, 'events'), scriptTimeoutMs: 5000, log: { info: (m) => logLines.push(`INFO ${m}`), error: (m) => logLines.push(`ERROR ${m}`) } });
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await store.close();
  });

  it('follows the state: rules while draining only, state scripts with <new> <old>', async () => {
    await agent.poll();
    assert.deepEqual(calls, [false]);
    await setState('draining');
    await agent.poll();
    await agent.idle();
    assert.deepEqual(calls, [false, true]);
    assert.equal(readFileSync(join(dir, 'state-changes'), 'utf8'), 'draining running\n');
    await agent.poll();
    await agent.idle();
    assert.deepEqual(calls, [false, true, true], 'reconciled on every poll (repairs drift), scripts not re-run');
    assert.equal(readFileSync(join(dir, 'state-changes'), 'utf8'), 'draining running\n');
  });

  it('an unreachable controller never flaps the rules: the last state is kept, logged once', async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    for (let i = 0; i < 5; i++) await agent.poll();
    assert.deepEqual(calls.slice(3), [true, true, true, true, true]);
    assert.equal(logLines.filter((l) => l.includes('controller unreachable')).length, 1);
    await startApi();
    await setState('stopping');
    await agent.poll();
    assert.equal(calls.at(-1), false, 'back in touch: the new state applies');
    assert.ok(logLines.some((l) => l.includes('controller reachable again')));
  });

  it('an agent that never reached the controller leaves the firewall alone', async () => {
    const fresh: boolean[] = [];
    const lonely = new Agent({ apiUrl: 'http://127.0.0.1:39997', token, instanceId: 'i-a', firewall: { reconcile: (d) => (fresh.push(d), Promise.resolve({ changes: [] })) }, scriptDir: dir, eventDir: dir, scriptTimeoutMs: 1000, log: { info: () => undefined, error: () => undefined } });
    await lonely.poll();
    await lonely.poll();
    assert.deepEqual(fresh, []);
  });

  it('pulls queued events, runs each once, and posts the result the controller reads', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const handle = await runner.runEvent('web', ['i-a'], 'instance-ready-for-shutdown', ['stopping'], 30_000);
    await agent.poll();
    await agent.idle();
    await agent.poll();
    await agent.idle();
    assert.equal(readFileSync(join(dir, 'events-run'), 'utf8'), 'shutdown stopping\n', 'run exactly once');
    const results = await runner.results([handle]);
    assert.deepEqual(results.events.map((e) => [e.instanceId, e.ok]), [['i-a', true]]);
    assert.deepEqual(results.finished, [handle.id]);
  });

  it('a retry while the first run is under way replaces it: the script runs once, the answer serves both', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const ran = join(dir, 'retry-while-running');
    const release = join(dir, 'retry-release');
    script(join(dir, 'events'), 'instance-ready-for-operation', `echo run >> '${ran}'; while [ ! -e '${release}' ]; do sleep 0.05; done; exit 0`);
    const first = await runner.runEvent('web', ['i-a'], 'instance-ready-for-operation', [], 30_000);
    await agent.poll(); // picks it up: the script is running
    while (!existsSync(ran)) await new Promise((r) => setTimeout(r, 20));
    clock.t += 70_000; // the controller gave up waiting (in flight for scriptTimeout + 30 s) and sends it again
    const retry = await runner.runEvent('web', ['i-a'], 'instance-ready-for-operation', [], 30_000);
    await agent.poll(); // sees the retry while the first run goes on
    writeFileSync(release, '');
    await agent.idle();
    await agent.poll();
    await agent.idle();
    assert.equal(readFileSync(ran, 'utf8'), 'run\n', 'one delivery, one run');
    const results = await runner.results([first, retry]);
    assert.deepEqual(results.events.map((e) => e.ok), [true, true], 'the run answers the first command and the retry');
    assert.deepEqual(results.finished.sort(), [first.id, retry.id].sort());
    clock.t = T0;
  });

  it('retries queued before the agent polls: it sees the newest only, runs it once; the replaced never count as failed', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const ran = join(dir, 'retries-queued');
    script(join(dir, 'events'), 'exit-maintenance-window-period', `echo run >> '${ran}'`);
    const handles = [];
    for (let i = 0; i < 3; i++) {
      handles.push(await runner.runEvent('web', ['i-a'], 'exit-maintenance-window-period', [], 30_000));
      clock.t += 20_000; // sent again and again before the agent polls
    }
    await agent.poll();
    await agent.idle();
    await agent.poll();
    await agent.idle();
    assert.equal(readFileSync(ran, 'utf8'), 'run\n');
    clock.t += 10 * 60_000; // long past every deadline
    const results = await runner.results(handles);
    assert.deepEqual(results.events.map((e) => [e.ok, e.detail]), [[true, 'agent: success (exit 0)']], 'the newest answered; nothing reported as "no agent answered"');
    assert.equal(results.finished.length, 3);
    clock.t = T0;
  });

  it('an agent restarted after answering: the retry queued before that answer is answered by it, not run again', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const ran = join(dir, 'retry-after-restart');
    const release = join(dir, 'retry-after-restart-release');
    script(join(dir, 'events'), 'instance-ready-for-shutdown', `echo run >> '${ran}'; while [ ! -e '${release}' ]; do sleep 0.05; done`);
    const make = (): Agent => new Agent({ apiUrl: `http://127.0.0.1:${port}`, token, instanceId: 'i-a', firewall: null, scriptDir: dir, eventDir: join(dir, 'events'), scriptTimeoutMs: 5000, log: { info: () => undefined, error: () => undefined } });
    const before = make();
    await runner.runEvent('web', ['i-a'], 'instance-ready-for-shutdown', ['draining'], 30_000);
    await before.poll();
    while (!existsSync(ran)) await new Promise((r) => setTimeout(r, 20));
    const retry = await runner.runEvent('web', ['i-a'], 'instance-ready-for-shutdown', ['draining'], 30_000);
    writeFileSync(release, '');
    await before.idle(); // posts the first command's result
    const after = make(); // a new process: remembers nothing
    await after.poll();
    await after.idle();
    assert.equal(readFileSync(ran, 'utf8'), 'run\n');
    assert.deepEqual((await runner.results([retry])).events.map((e) => e.ok), [true]);
  });

  it('maintenance scripts: run under sh, exit 194 reboots and runs again (journal), a crash mid-run is reported', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const marker = join(dir, 'rebooted-once');
    const reboots: string[] = [];
    const make = (): Agent => new Agent({ apiUrl: `http://127.0.0.1:${port}`, token, instanceId: 'i-a', firewall: null, scriptDir: dir, eventDir: dir, scriptTimeoutMs: 5000, log: { info: () => undefined, error: () => undefined }, journal: new FileJournal(join(dir, 'state', 'journal.json')), reboot: () => (reboots.push('reboot'), Promise.resolve()) });
    const h = await runner.runScript('web', 'i-a', 'mw-reboot-test', `if [ -e '${marker}' ]; then echo "second run"; exit 0; fi; touch '${marker}'; echo "needs reboot"; exit 194`, 30_000, { mayRerun: false });
    const first = make();
    await first.poll();
    await first.idle();
    assert.deepEqual(reboots, ['reboot']);
    assert.equal(new FileJournal(join(dir, 'state', 'journal.json')).get('mw-reboot-test')?.state, 'reboot', 'the journal remembers the reboot');
    assert.deepEqual((await runner.results([h])).scripts, [], 'no result while rebooting');
    const afterReboot = make(); // the machine came back: a new agent process
    await afterReboot.poll();
    await afterReboot.idle();
    const r = (await runner.results([h])).scripts?.[0];
    assert.deepEqual([r?.status, r?.exitCode, r?.reboots, r?.output.trim()], ['success', 0, 1, 'second run']);
    assert.equal(new FileJournal(join(dir, 'state', 'journal.json')).get('mw-reboot-test'), undefined, 'journal cleared');

    const h2 = await runner.runScript('web', 'i-a', 'mw-crash-test', 'echo never', 30_000, { mayRerun: false });
    new FileJournal(join(dir, 'state', 'journal.json')).set('mw-crash-test', { state: 'running', reboots: 0 }); // died mid-run
    const again = make();
    await again.poll();
    await again.idle();
    const r2 = (await runner.results([h2])).scripts?.[0];
    assert.equal(r2?.status, 'failed');
    assert.match(r2.output, /interrupted: the agent restarted during the run/);
  });

  it('a cancelled maintenance script: its whole process group is killed and it is reported cancelled; one not started never runs', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const pidFile = join(dir, 'child.pid');
    // The script leaves a child of its own behind: a cancel must stop that too.
    const h = await runner.runScript('web', 'i-a', 'mw-cancel-running', `sleep 600 & echo $! > '${pidFile}'; wait`, 600_000, { mayRerun: false });
    await agent.poll();
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') await new Promise((r) => setTimeout(r, 20));
    const child = Number(readFileSync(pidFile, 'utf8').trim());
    await runner.cancel(h, 'i-a');
    await agent.poll();
    await agent.idle();
    const r = (await runner.results([h])).scripts?.[0];
    assert.deepEqual([r?.status, r?.exitCode === 0], ['cancelled', false]);
    assert.match(r?.output ?? '', /cancelled by the controller: process group stopped/);
    // Gone, or a zombie left for init to reap: either way it no longer runs.
    const state = existsSync(`/proc/${child}/stat`) ? (readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1] ?? '').charAt(0) : 'gone';
    assert.ok(state === 'gone' || state === 'Z', `the script’s own child is stopped too (state ${state})`);
    assert.ok(logLines.some((l) => l.includes('maintenance script mw-cancel-running cancelled by the controller: stopping it')));

    const marker = join(dir, 'never-ran');
    const h2 = await runner.runScript('web', 'i-a', 'mw-cancel-queued', `touch '${marker}'`, 30_000, { mayRerun: false });
    await runner.cancel(h2, 'i-a');
    await agent.poll();
    await agent.idle();
    const r2 = (await runner.results([h2])).scripts?.[0];
    assert.deepEqual([r2?.status, r2?.output], ['cancelled', 'cancelled by the controller before it ran']);
    assert.equal(existsSync(marker), false, 'never started');
  });

  it('out of service for a maintenance task: the ports are blocked although the state is running', async () => {
    await setState('running');
    await agent.poll();
    assert.equal(calls.at(-1), false);
    await fixtureSave(store, { group: 'web', at: clock.t, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [], executions: [{ id: 'web/w/2026-06-01T10:00:00Z', group: 'web', window: 'w', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status: 'IN_PROGRESS', startedAt: T0, tasks: [{ name: 't', priority: 1, status: 'IN_PROGRESS', targets: ['i-a'], terminated: [], detail: '', invocations: [{ target: 'i-a', status: 'IN_PROGRESS', phase: 'draining', phaseSince: T0, startedAt: T0, runs: 0, outOfService: true, detail: 'draining' }] }] }] });
    await agent.poll();
    assert.equal(calls.at(-1), true);
    assert.ok(logLines.some((l) => l.includes('out of service for maintenance')));
  });

  it('answers bypass checks from the file system', async () => {
    const runner = new AgentCommandRunner(store, clock);
    const present = join(dir, 'bypass-present');
    writeFileSync(present, '');
    const h1 = await runner.checkBypass('web', ['i-a'], present, 'linux');
    const h2 = await runner.checkBypass('web', ['i-a'], join(dir, 'bypass-absent'), 'linux');
    await agent.poll();
    await agent.idle();
    assert.ok(existsSync(present));
    assert.deepEqual((await runner.results([h1, h2])).bypass.map((b) => b.result), ['present', 'absent']);
  });
});

describe('agent log escaping', () => {
  it('one call is one line: newlines and terminal escapes in a message are escaped, never written raw', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-agent-esc-'));
    const file = join(dir, 'agent.log');
    const log = new AgentLog(file, parseRotate('d,1,7'), () => T0);
    log.info('script /etc/x: exit 0\nok\n2026-01-01T00:00:00.000Z INFO forged by a script\u001b[2J\u001b[31m\n');
    log.error('state "\r\u202e" refused');
    assert.equal(readFileSync(file, 'utf8'), [
      '2026-06-01T10:00:00.000Z INFO script /etc/x: exit 0\\nok\\n2026-01-01T00:00:00.000Z INFO forged by a script\\x1b[2J\\x1b[31m',
      '2026-06-01T10:00:00.000Z ERROR state "\\r\\u202e" refused',
      '',
    ].join('\n'));
  });
});

describe('agent against a controller that answers outside the closed sets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-agent-hostile-'));
  const scriptDir = join(dir, 'agent.d');
  const eventDir = join(dir, 'events');
  let answer: unknown = null;
  const posted: string[] = [];
  let server: Server;
  let url = '';
  const logLines: string[] = [];
  const drains: boolean[] = [];

  before(async () => {
    // Scripts an attacker would like run: outside the script directory, and under names that are not events.
    script(join(dir, 'evil'), 'run-me', `touch ${join(dir, 'ran-evil')}`);
    script(join(scriptDir, 'running'), '10-ok', `echo "$1" >> ${join(dir, 'states')}`);
    script(eventDir, 'custom-evil', `touch ${join(dir, 'ran-custom-event')}`);
    script(eventDir, 'instance-ready-for-shutdown', `touch ${join(dir, 'ran-real-event')}`);
    server = createServer((req, res) => {
      if (req.method === 'POST') {
        posted.push(req.url ?? '');
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    url = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('a state such as ../evil runs nothing outside script-dir, changes nothing, and is logged once', async () => {
    const agent = new Agent({ apiUrl: url, token: 't', instanceId: 'i-a', firewall: { reconcile: (d) => (drains.push(d), Promise.resolve({ changes: [] })) }, scriptDir, eventDir, scriptTimeoutMs: 5000, log: { info: (m) => logLines.push(`INFO ${m}`), error: (m) => logLines.push(`ERROR ${m}`) } });
    answer = { state: 'running', drain: false, pendingCommands: [] };
    await agent.poll();
    await agent.idle();
    answer = { state: '../evil', drain: true, pendingCommands: [] };
    await agent.poll();
    await agent.poll();
    await agent.idle();
    assert.ok(!existsSync(join(dir, 'ran-evil')), '<script-dir>/../evil/run-me did not run');
    assert.equal(agent.state, 'running', 'the last known state is kept');
    assert.deepEqual(drains, [false, false, false], 'the firewall follows the last known state, not the bad answer');
    assert.equal(readFileSync(join(dir, 'states'), 'utf8'), 'running\n', 'state scripts ran once, for the real state');
    assert.deepEqual(logLines.filter((l) => l.includes('../evil')), ['ERROR ignored an unknown state "../evil" from the controller; keeping the last known one, no script run'], 'logged once, not every poll');
  });

  it('an unknown event or kind runs nothing; a known event in the same answer still runs', async () => {
    const agent = new Agent({ apiUrl: url, token: 't', instanceId: 'i-a', firewall: null, scriptDir, eventDir, scriptTimeoutMs: 5000, log: { info: (m) => logLines.push(`INFO ${m}`), error: (m) => logLines.push(`ERROR ${m}`) } });
    answer = {
      state: 'running',
      pendingCommands: [
        { id: 'agent-1', kind: 'event', event: 'custom-evil', args: [], timeoutMs: 5000 },
        { id: 'agent-2', kind: 'event', event: '../evil/run-me', args: [], timeoutMs: 5000 },
        { id: 'agent-3', kind: 'surprise', event: 'custom-evil', args: [], timeoutMs: 5000 },
        { id: 'agent-4', kind: 'event', event: 'instance-ready-for-shutdown', args: ['stopping'], timeoutMs: 5000 },
      ],
    };
    await agent.poll();
    await agent.idle();
    assert.ok(!existsSync(join(dir, 'ran-custom-event')), 'an event name outside the closed set names no script');
    assert.ok(!existsSync(join(dir, 'ran-evil')));
    assert.ok(existsSync(join(dir, 'ran-real-event')), 'the valid command of the same answer ran');
    assert.deepEqual(posted.map((p) => p.split('/').at(-2)), ['agent-4'], 'only the command that ran is answered');
    assert.ok(logLines.includes('ERROR ignored command agent-1: unknown event "custom-evil"; nothing run'), logLines.join('\n'));
    assert.ok(logLines.includes('ERROR ignored command agent-3: unknown kind "surprise"; nothing run'));
  });
});
