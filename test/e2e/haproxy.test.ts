/**
 * The proof of seed 004, with real parts, as root: HAProxy (active health checks, retries and redispatch — a
 * forgiving load balancer) in front of three real HTTP backends, each in its own network namespace with a real
 * agent (the single-file build). A real controller (`fleetwarden run`, the simulated fleet for power state, agents
 * for commands) runs a maintenance window whose task restarts each backend. A load generator sends requests all the
 * while. With `drain: true`: zero failed requests, every backend restarted and back in rotation. The same scenario
 * with `drain: false` loses requests — the test can see the difference.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { connect } from 'node:net';
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
const BACKENDS = 3;
const FRONT_PORT = 18_000 + (process.pid % 1000);

const BACKEND = `
const http = require('http');
const [port, pidFile, name] = process.argv.slice(2);
require('fs').writeFileSync(pidFile, String(process.pid));
http.createServer((req, res) => {
  if (req.url === '/health') return void res.end('ok');
  setTimeout(() => res.end('served by ' + name), 100); // requests are in flight long enough to be cut
}).listen(Number(port), '0.0.0.0');
`;

interface Load {
  served: number;
  failed: number;
  errors: Map<string, number>;
  stop: () => Promise<void>;
}

/** Sends requests continuously from `workers` clients (keep-alive) until stopped, at most `max` in all. */
function loadGenerator(workers: number, max: number): Load {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: workers });
  const load: Load = { served: 0, failed: 0, errors: new Map(), stop: () => Promise.resolve() };
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolveOne) => {
      const req = request({ host: '127.0.0.1', port: FRONT_PORT, path: '/', agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) load.served++;
          else {
            load.failed++;
            load.errors.set(`HTTP ${res.statusCode ?? '?'}`, (load.errors.get(`HTTP ${res.statusCode ?? '?'}`) ?? 0) + 1);
          }
          resolveOne();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        load.failed++;
        load.errors.set(e.code ?? e.message, (load.errors.get(e.code ?? e.message) ?? 0) + 1);
        resolveOne();
      });
      req.end();
    });
  const loops = Array.from({ length: workers }, async () => {
    while (running && load.served + load.failed < max) await one();
  });
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
    agent.destroy();
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

describe('rolling maintenance behind a real HAProxy', requirements(AS_ROOT, IPTABLES, IPROUTE2, HAPROXY), () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-e2e-'));
  const nss: InstanceNs[] = [];
  let haproxy: ChildProcess | undefined;
  const haSocket = join(dir, 'haproxy.sock');

  before(async () => {
    writeFileSync(join(dir, 'backend.js'), BACKEND);
    // The maintenance task: restart this instance's backend (the agent tells the script which instance it is on).
    writeFileSync(join(dir, 'restart.sh'), `#!/bin/sh
set -e
pidfile="${dir}/$FLEETWARDEN_INSTANCE_ID.pid"
kill "$(cat "$pidfile")"
sleep 0.5
setsid ${process.execPath} ${join(dir, 'backend.js')} 8080 "$pidfile" "$FLEETWARDEN_INSTANCE_ID" > /dev/null 2>&1 < /dev/null &
sleep 1
echo "restarted $FLEETWARDEN_INSTANCE_ID"
`);
    const servers: string[] = [];
    for (let n = 1; n <= BACKENDS; n++) {
      const ns = new InstanceNs('e2e', 1 + n);
      nss.push(ns);
      const id = `i-web-00${n}`;
      spawn('ip', ['netns', 'exec', ns.name, 'setsid', process.execPath, join(dir, 'backend.js'), '8080', join(dir, `${id}.pid`), id], { stdio: 'ignore', detached: true }).unref();
      servers.push(`  server ${id} ${ns.ip}:8080 check`);
    }
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  stats socket ${haSocket} mode 600 level admin
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  retries 3
  option redispatch
frontend fe
  bind 127.0.0.1:${FRONT_PORT}
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /health
  default-server inter 200ms fall 2 rise 2
${servers.join('\n')}
`,
    );
    haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    haproxy.stderr?.on('data', () => undefined);
    assert.ok(await waitFor(async () => [...(await serverStatus(haSocket).catch(() => new Map<string, string>())).values()].filter((s) => s === 'UP').length === BACKENDS, 20_000), 'every backend UP in HAProxy');
  });

  after(() => {
    haproxy?.kill('SIGKILL');
    for (const n of nss) {
      for (let k = 1; k <= BACKENDS; k++) {
        try {
          process.kill(Number(readFileSync(join(dir, `i-web-00${k}.pid`), 'utf8')), 'SIGKILL');
        } catch {
          // gone
        }
      }
      n.destroy();
    }
  });

  /** Runs the controller with a window starting in a few seconds and a restart task; returns what the load saw. */
  async function scenario(drain: boolean): Promise<{ served: number; failed: number; errors: Map<string, number>; wallMs: number; status: string; pidsChanged: number; finalStatus: Map<string, string> }> {
    const state = mkdtempSync(join(dir, drain ? 'drain-' : 'plain-'));
    const now = Math.floor(Date.now() / 1000) * 1000;
    const at = new Date(now + 8000).toISOString().slice(0, 19);
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
    lifecycle: { warmUp: 1s, drainMinimum: 2s }
    maintenance:
      windows:
        - name: FW-e2e
          schedule: at(${at})
          durationHours: 1
          tasks:
            - name: restart
              command: sh ${join(dir, 'restart.sh')}
              timeout: 30s
              maxConcurrency: 1
${drain ? `              drain: true
              capacityFloor: ${BACKENDS - 1}
              settle: 2s
              healthCheck: { command: '${health.replace(/'/g, "''")}', timeout: 5s, within: 30s }` : '              drain: false'}
`,
    );
    const controller = spawn(process.execPath, [BIN, 'run', '--config', config, '--state-dir', state, '--listen', '0.0.0.0:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const agents: ChildProcess[] = [];
    const output: string[] = [];
    controller.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    try {
      const port = await new Promise<string>((resolvePort, reject) => {
        controller.once('exit', (code) => reject(new Error(`controller exited ${code ?? ''}: ${output.join('')}`)));
        createInterface({ input: controller.stdout }).on('line', (l) => {
          output.push(l);
          const m = /"type":"api","url":"http:\/\/[^:]+:(\d+)"/.exec(l);
          if (m?.[1]) resolvePort(m[1]);
        });
      });
      const admin = readFileSync(join(state, 'admin-token'), 'utf8').trim();
      const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        return r.json();
      };
      for (const [k, ns] of nss.entries()) {
        const id = `i-web-00${k + 1}`;
        const { token } = (await api('POST', '/v1/tokens', { instance: id })) as { token: string };
        const a = ns.spawn([process.execPath, AGENT_BIN, '--api-url', `http://${ns.hostIp}:${port}`, '--instance-id', id, '--api-polling-period', '0.2', '--on-draining-block-new-connections-to-ports', '8080', '--config', '/dev/null', '--state-dir', join(state, `agent-${id}`), '--log-file', join(state, `agent-${id}.log`)], { ...process.env, FLEETWARDEN_AGENT_TOKEN: token });
        agents.push(a);
      }
      const pidsBefore = Array.from({ length: BACKENDS }, (_, k) => readFileSync(join(dir, `i-web-00${k + 1}.pid`), 'utf8'));
      const load = loadGenerator(8, 200_000);
      const started = Date.now();
      let status = 'none';
      const done = await waitFor(async () => {
        const list = (await api('GET', '/v1/executions')) as { executions: { status: string }[] };
        status = list.executions[0]?.status ?? 'none';
        return status !== 'none' && status !== 'IN_PROGRESS';
      }, 150_000, 500);
      // A little more traffic after the last put-back: every backend must take it.
      await new Promise((r) => setTimeout(r, 1500));
      await load.stop();
      const wallMs = Date.now() - started;
      assert.ok(done, `the maintenance finished: ${output.slice(-20).join('\n')}`);
      const pidsChanged = Array.from({ length: BACKENDS }, (_, k) => readFileSync(join(dir, `i-web-00${k + 1}.pid`), 'utf8')).filter((p, k) => p !== pidsBefore[k]).length;
      const finalStatus = await serverStatus(haSocket);
      return { served: load.served, failed: load.failed, errors: load.errors, wallMs, status, pidsChanged, finalStatus };
    } finally {
      for (const a of agents) a.kill('SIGTERM');
      controller.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      for (const ns of nss) {
        // Leave no rule behind for the next scenario.
        spawn('ip', ['netns', 'exec', ns.name, 'sh', '-c', 'iptables -w -D INPUT ! -i lo -j FLEETWARDEN-DRAIN; iptables -w -F FLEETWARDEN-DRAIN; iptables -w -X FLEETWARDEN-DRAIN; ip6tables -w -D INPUT ! -i lo -j FLEETWARDEN-DRAIN; ip6tables -w -F FLEETWARDEN-DRAIN; ip6tables -w -X FLEETWARDEN-DRAIN'], { stdio: 'ignore' });
      }
      await waitFor(async () => [...(await serverStatus(haSocket)).values()].filter((s) => s === 'UP').length === BACKENDS, 20_000);
    }
  }

  it('with drain: every backend restarted, zero failed requests, all back in rotation', async (t) => {
    const r = await scenario(true);
    t.diagnostic(`drain: ${r.served} requests served, ${r.failed} failed, maintenance wall time ${(r.wallMs / 1000).toFixed(1)} s`);
    assert.equal(r.status, 'SUCCESS');
    assert.equal(r.pidsChanged, BACKENDS, 'every backend was restarted');
    assert.ok(r.served > 200, `requests were flowing: ${r.served}`);
    assert.equal(r.failed, 0, `failed requests: ${JSON.stringify([...r.errors])}`);
    assert.deepEqual([...r.finalStatus.values()], Array(BACKENDS).fill('UP'), 'every backend back in rotation');
  });

  it('without drain: the same restarts lose requests (the test sees the difference)', async (t) => {
    const r = await scenario(false);
    t.diagnostic(`no drain: ${r.served} requests served, ${r.failed} failed (${JSON.stringify([...r.errors])}), wall time ${(r.wallMs / 1000).toFixed(1)} s`);
    assert.equal(r.status, 'SUCCESS');
    assert.equal(r.pidsChanged, BACKENDS);
    assert.ok(r.failed > 0, 'restarting a backend in service fails requests');
  });
});
