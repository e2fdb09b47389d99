/**
 * The proof of seed 004 and of the drain handshake (docs/agent.md#drain-handshake), with real parts, as root: a real
 * HAProxy that does not forgive — `retries 0`, no redispatch, server connections reused (`http-reuse always`) —
 * in front of four real HTTP backends, each in its own network namespace with a real agent (the single-file build)
 * run with its default timings (10 s polls, long polls on) and a health answer on its own port that HAProxy checks.
 * A real controller (`fleetwarden run`, the simulated fleet for power state, agents for commands) runs a maintenance
 * window whose task restarts each backend, two at a time, with a capacity floor of two. Fifty clients send requests
 * all the while — half on keep-alive connections, half on new ones, some taking up to 3 s.
 *
 * With the handshake: zero failed requests behind HAProxy in HTTP mode, in TCP (pass-through) mode where only the
 * take-out hook closing keep-alive connections saves the keep-alive clients, and with the controller killed -9 in
 * the middle of the roll; HAProxy never has fewer than the floor's two backends up. Without drain, the same restarts
 * lose requests — the test sees the difference.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { InstanceNs, waitFor } from '../agent/netns.js';
import { AS_ROOT, HAPROXY, IPROUTE2, IPTABLES, requirements } from '../support/requirements.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const AGENT_BIN = join(ROOT, 'dist/fleetwarden-agent.mjs');
const BACKENDS = 4;
const FLOOR = 2;
const CLIENTS = 50;
const FRONT_PORT = 18_000 + (process.pid % 1000);
const ids = Array.from({ length: BACKENDS }, (_, k) => `i-web-00${k + 1}`);

/**
 * The app: `/health` for its own check; any other path answers after `?ms=` milliseconds. SIGUSR2 (sent by the
 * agent's take-out hook) makes it close keep-alive connections: every answer from then on carries
 * `Connection: close`, and connections left idle are closed after a moment.
 */
const BACKEND = `
const http = require('http');
const [port, pidFile, name] = process.argv.slice(2);
require('fs').writeFileSync(pidFile, String(process.pid));
let closing = false;
const server = http.createServer((req, res) => {
  if (req.url === '/health') return void res.end('ok');
  const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') || 20);
  setTimeout(() => {
    if (closing) res.setHeader('connection', 'close');
    res.end('served by ' + name);
  }, ms);
});
server.keepAliveTimeout = 120000;
process.on('SIGUSR2', () => {
  closing = true;
  setTimeout(() => server.closeIdleConnections(), 2000);
});
server.listen(Number(port), '0.0.0.0');
`;

interface Load {
  served: number;
  failed: number;
  errors: Map<string, number>;
  stop: () => Promise<void>;
}

/**
 * `workers` clients until stopped: even ones on keep-alive connections (used in turn, so none sits idle for long),
 * odd ones on a new connection per request; one request in ten takes 1-3 s, the others 20-200 ms.
 */
function loadGenerator(workers: number): Load {
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: workers, scheduling: 'fifo' });
  const fresh = new HttpAgent({ keepAlive: false });
  const load: Load = { served: 0, failed: 0, errors: new Map(), stop: () => Promise.resolve() };
  let running = true;
  const count = (what: string): void => {
    load.failed++;
    load.errors.set(what, (load.errors.get(what) ?? 0) + 1);
  };
  const one = (agent: HttpAgent, n: number): Promise<void> =>
    new Promise((resolveOne) => {
      const ms = n % 10 === 0 ? 1000 + ((n * 7919) % 2000) : 20 + ((n * 104_729) % 180);
      const req = request({ host: '127.0.0.1', port: FRONT_PORT, path: `/?ms=${ms}`, agent, timeout: 15_000 }, (res) => {
        res.resume();
        res.on('error', (e: NodeJS.ErrnoException) => {
          count(e.code ?? e.message);
          resolveOne();
        });
        res.on('end', () => {
          if (res.statusCode === 200) load.served++;
          else count(`HTTP ${res.statusCode ?? '?'}`);
          resolveOne();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        count(e.code ?? e.message);
        resolveOne();
      });
      req.end();
    });
  let n = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) await one(w % 2 === 0 ? keepAlive : fresh, n++);
  });
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
    keepAlive.destroy();
    fresh.destroy();
  };
  return load;
}

/** HAProxy's view of each server (`show stat` on its admin socket): name → status (UP, DOWN, ...). */
function serverStatus(socket: string): Promise<Map<string, string>> {
  return new Promise((resolveStat, reject) => {
    const s = connect(socket);
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('end', () => {
      const out = new Map<string, string>();
      for (const line of text.split('\n')) {
        const cols = line.split(',');
        if (cols[0] === 'be' && cols[1] !== 'BACKEND' && cols[1] !== undefined) out.set(cols[1], cols[17] ?? '');
      }
      resolveStat(out);
    });
    s.on('error', reject);
    s.write('show stat\n');
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

interface Outcome {
  served: number;
  failed: number;
  errors: Map<string, number>;
  wallMs: number;
  status: string;
  pidsChanged: number;
  finalStatus: Map<string, string>;
  /** The fewest backends HAProxy had up at any moment of the roll. */
  minUp: number;
  /** Agent reports the controller recorded in its history (`agent reports ports …`). */
  reports: number;
}

describe('rolling maintenance behind a real HAProxy: zero failed requests with the agents’ defaults', requirements(AS_ROOT, IPTABLES, IPROUTE2, HAPROXY), () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-e2e-'));
  const nss: InstanceNs[] = [];
  let haproxy: ChildProcess | undefined;
  const haSocket = join(dir, 'haproxy.sock');

  const pidOf = (id: string): string => readFileSync(join(dir, `${id}.pid`), 'utf8');

  before(() => {
    writeFileSync(join(dir, 'backend.js'), BACKEND);
    // The maintenance task: restart this instance's app (the agent tells the script which instance it is on).
    writeFileSync(join(dir, 'restart.sh'), `#!/bin/sh
set -e
pidfile="${dir}/$FLEETWARDEN_INSTANCE_ID.pid"
kill "$(cat "$pidfile")"
sleep 0.5
setsid ${process.execPath} ${join(dir, 'backend.js')} 8080 "$pidfile" "$FLEETWARDEN_INSTANCE_ID" > /dev/null 2>&1 < /dev/null &
sleep 1
echo "restarted $FLEETWARDEN_INSTANCE_ID"
`);
    for (const [k, id] of ids.entries()) {
      const ns = new InstanceNs('e2e', 1 + k);
      nss.push(ns);
      spawn('ip', ['netns', 'exec', ns.name, 'setsid', process.execPath, join(dir, 'backend.js'), '8080', join(dir, `${id}.pid`), id], { stdio: 'ignore', detached: true }).unref();
      // The drain hook: maintenance took the instance out, the app closes its keep-alive connections.
      mkdirSync(join(dir, `scripts-${id}`, 'take-out'), { recursive: true });
      writeFileSync(join(dir, `scripts-${id}`, 'take-out', '10-close-keepalive'), `#!/bin/sh\nkill -USR2 "$(cat ${join(dir, `${id}.pid`)})"\n`);
      chmodSync(join(dir, `scripts-${id}`, 'take-out', '10-close-keepalive'), 0o755);
    }
  });

  after(() => {
    haproxy?.kill('SIGKILL');
    for (const id of ids) {
      try {
        process.kill(Number(pidOf(id)), 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const n of nss) n.destroy();
  });

  /** HAProxy in `mode`, checking each backend's agent health answer (port 8081), no retries, no redispatch. */
  function startHaproxy(mode: 'http' | 'tcp'): void {
    haproxy?.kill('SIGKILL');
    const servers = nss.map((ns, k) => `  server ${ids[k] ?? ''} ${ns.ip}:8080 check port 8081`);
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  stats socket ${haSocket} mode 600 level admin
  maxconn 4000
defaults
  mode ${mode}
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  retries 0
frontend fe
  bind 127.0.0.1:${FRONT_PORT}
  default_backend be
backend be
  balance roundrobin
${mode === 'http' ? '  http-reuse always\n' : ''}  option httpchk GET /
  default-server inter 200ms fall 2 rise 2
${servers.join('\n')}
`,
    );
    haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    haproxy.stderr?.on('data', () => undefined);
  }

  /** Runs the controller with a window starting in a few seconds and a restart task; returns what the load saw. */
  async function scenario(o: { mode: 'http' | 'tcp'; drain: boolean; killMidRoll?: boolean }): Promise<Outcome> {
    const state = mkdtempSync(join(dir, `${o.mode}-${o.drain ? 'drain' : 'plain'}-`));
    const agentsUp: ChildProcess[] = [];
    const controllers: ChildProcess[] = [];
    const output: string[] = [];
    const apiPort = await freePort();
    const startController = (config: string): ChildProcess => {
      const c = spawn(process.execPath, [BIN, 'run', '--config', config, '--state-dir', state, '--listen', `0.0.0.0:${apiPort}`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      createInterface({ input: c.stdout }).on('line', (l) => output.push(l));
      controllers.push(c);
      return c;
    };
    try {
      startHaproxy(o.mode);
      // Every agent serves its health answer (it may still be the last scenario's agent answering): wait until all are up.
      const now = Math.floor(Date.now() / 1000) * 1000;
      const at = new Date(now + 12_000).toISOString().slice(0, 19);
      const health = `${process.execPath} -e "require('http').get('http://127.0.0.1:8080/health', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"`;
      const config = join(state, 'fleetwarden.yaml');
      writeFileSync(
        config,
        `controller: { tickInterval: 1s, leaseTtl: 5s, eventDelivery: agent }
simulator:
  start: "${new Date(now).toISOString()}"
  speed: 1
  groups:
    web: { instances: ${BACKENDS}, running: true, targetGroup: false }
groups:
  - name: web
    fleets: { main: { min: ${BACKENDS}, desired: ${BACKENDS} } }
    # In-flight work: the longest request (3 s) and a margin.
    lifecycle: { warmUp: 1s, drainMinimum: 5s }
    # HAProxy sees a changed health answer within inter × fall (400 ms) or rise; 2 s leaves a margin.
    agent: { confirm: ${o.drain}, lbDetection: 2s }
    maintenance:
      windows:
        - name: FW-e2e
          schedule: at(${at})
          durationHours: 1
          tasks:
            - name: restart
              command: sh ${join(dir, 'restart.sh')}
              timeout: 30s
              maxConcurrency: 2
${o.drain ? `              drain: true
              capacityFloor: ${FLOOR}
              settle: 2s
              healthCheck: { command: '${health.replace(/'/g, "''")}', timeout: 5s, within: 30s }` : '              drain: false'}
`,
      );
      let controller = startController(config);
      assert.ok(await waitFor(() => output.some((l) => l.includes('"type":"api"')), 20_000), `the controller serves its API: ${output.join('')}`);
      const admin = readFileSync(join(state, 'admin-token'), 'utf8').trim();
      const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
        const r = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        return r.json();
      };
      for (const [k, ns] of nss.entries()) {
        const id = ids[k] ?? '';
        const { token } = (await api('POST', '/v1/tokens', { instance: id })) as { token: string };
        // The agent's defaults: 10 s polling period, long polls; the health answer on 8081 reflecting the app's.
        agentsUp.push(ns.spawn([process.execPath, AGENT_BIN, '--api-url', `http://${ns.hostIp}:${apiPort}`, '--instance-id', id, '--on-draining-block-new-connections-to-ports', '8080', '--health-port', '8081', '--health-check-url', 'http://127.0.0.1:8080/health', '--script-dir', join(dir, `scripts-${id}`), '--config', '/dev/null', '--state-dir', join(state, `agent-${id}`), '--log-file', join(state, `agent-${id}.log`)], { ...process.env, FLEETWARDEN_AGENT_TOKEN: token }));
      }
      assert.ok(await waitFor(async () => [...(await serverStatus(haSocket).catch(() => new Map<string, string>())).values()].filter((s) => s === 'UP').length === BACKENDS, 30_000), 'every backend UP in HAProxy');
      const pidsBefore = ids.map(pidOf);
      const load = loadGenerator(CLIENTS);
      const started = Date.now();
      let minUp = BACKENDS;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const up = [...(await serverStatus(haSocket).catch(() => new Map<string, string>())).values()].filter((s) => s === 'UP').length;
          minUp = Math.min(minUp, up);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      let status = 'none';
      let killed = false;
      const done = await waitFor(async () => {
        const list = (await api('GET', '/v1/executions').catch(() => ({ executions: [] }))) as { executions: { id: string; status: string }[] };
        status = list.executions[0]?.status ?? status;
        if (o.killMidRoll === true && !killed && list.executions[0] !== undefined) {
          // Kill -9 once the first batch is out of service, then start again on the same store and port.
          const exec = (await api('GET', `/v1/executions/${encodeURIComponent(list.executions[0].id)}`)) as { tasks: { invocations: { outOfService: boolean }[] }[] };
          if (exec.tasks[0]?.invocations.some((i) => i.outOfService) === true) {
            killed = true;
            controller.kill('SIGKILL');
            await new Promise((r) => controller.once('exit', r));
            controller = startController(config);
          }
        }
        return status !== 'none' && status !== 'IN_PROGRESS';
      }, 240_000, 500);
      // A little more traffic after the last put-back: every backend must take it.
      await new Promise((r) => setTimeout(r, 2000));
      await load.stop();
      sampling = false;
      await sampler;
      const wallMs = Date.now() - started;
      assert.ok(done, `the maintenance finished: ${output.slice(-30).join('\n')}`);
      if (o.killMidRoll === true) assert.ok(killed, 'the controller was killed mid-roll');
      const history = (await api('GET', '/v1/history?group=web&limit=1000')) as { entries: { type: string }[] };
      return { served: load.served, failed: load.failed, errors: load.errors, wallMs, status, pidsChanged: ids.map(pidOf).filter((p, k) => p !== pidsBefore[k]).length, finalStatus: await serverStatus(haSocket), minUp, reports: history.entries.filter((e) => e.type === 'agent').length };
    } finally {
      // Stopped and gone before the next scenario (their health ports free again).
      await Promise.all([...agentsUp, ...controllers].map((p) => new Promise((r) => {
        if (p.exitCode !== null || p.signalCode !== null) r(null);
        else {
          p.once('exit', r);
          p.kill('SIGTERM');
        }
      })));
      for (const ns of nss) {
        // Leave no rule behind for the next scenario.
        spawn('ip', ['netns', 'exec', ns.name, 'sh', '-c', 'iptables -w -D INPUT ! -i lo -j FLEETWARDEN-DRAIN; iptables -w -F FLEETWARDEN-DRAIN; iptables -w -X FLEETWARDEN-DRAIN; ip6tables -w -D INPUT ! -i lo -j FLEETWARDEN-DRAIN; ip6tables -w -F FLEETWARDEN-DRAIN; ip6tables -w -X FLEETWARDEN-DRAIN'], { stdio: 'ignore' });
      }
    }
  }

  function report(t: { diagnostic: (m: string) => void }, name: string, r: Outcome): void {
    t.diagnostic(`${name}: ${r.served} requests served, ${r.failed} failed ${JSON.stringify([...r.errors])}, fewest backends up ${r.minUp}, agent reports ${r.reports}, wall time ${(r.wallMs / 1000).toFixed(1)} s`);
  }

  function assertClean(r: Outcome): void {
    assert.equal(r.status, 'SUCCESS');
    assert.equal(r.pidsChanged, BACKENDS, 'every backend was restarted');
    assert.ok(r.served > 1000, `requests were flowing: ${r.served}`);
    assert.equal(r.failed, 0, `failed requests: ${JSON.stringify([...r.errors])}`);
    assert.ok(r.minUp >= FLOOR, `HAProxy never had fewer than ${FLOOR} backends up: it had ${r.minUp}`);
    assert.ok(r.reports >= BACKENDS * 4, `every step was reported by the agents: ${r.reports}`);
    assert.deepEqual([...r.finalStatus.values()], Array(BACKENDS).fill('UP'), 'every backend back in rotation');
  }

  it('HTTP mode, with the handshake: every backend restarted, zero failed requests, the floor held', async (t) => {
    const r = await scenario({ mode: 'http', drain: true });
    report(t, 'http drain', r);
    assertClean(r);
  });

  it('TCP (pass-through) mode, with the handshake and the hook closing keep-alive connections: zero failed requests', async (t) => {
    const r = await scenario({ mode: 'tcp', drain: true });
    report(t, 'tcp drain', r);
    assertClean(r);
  });

  it('HTTP mode, the controller killed -9 mid-roll and started again: still zero failed requests', async (t) => {
    const r = await scenario({ mode: 'http', drain: true, killMidRoll: true });
    report(t, 'http drain, kill -9', r);
    assertClean(r);
  });

  it('without drain: the same restarts lose requests (the test sees the difference)', async (t) => {
    const r = await scenario({ mode: 'http', drain: false });
    report(t, 'no drain', r);
    assert.equal(r.status, 'SUCCESS');
    assert.equal(r.pidsChanged, BACKENDS);
    assert.ok(r.failed > 0, 'restarting a backend in service fails requests');
  });
});
