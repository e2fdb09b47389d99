/**
 * Agent: time from a state change in the controller (the instance's record becomes `draining` in the store the API
 * reads) to the port being blocked inside the instance (a new TCP connection is reset), and the other way round;
 * and the agent's resident memory. Runs the single-file agent in a network namespace with real iptables (root), in
 * two ways: plain polls every second (the fallback; about half a period on average), and its defaults — a 10 s
 * period with long polls, woken by the controller's change feed (goal: p90 ≤ 100 ms, resident memory ≤ 40 MiB).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChangeFeed } from '../src/api/changes.js';
import { createApiServer, listen } from '../src/api/server.js';
import { hashToken, issueToken } from '../src/api/services.js';
import { parseConfigText } from '../src/config/load.js';
import type { LifecycleState } from '../src/domain/lifecycle.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { InstanceNs, probe, startEchoServer, waitFor } from '../test/agent/netns.js';
import { AS_ROOT, assess, IPROUTE2, IPTABLES } from '../test/support/requirements.js';
import { fmt, printTable } from './lib.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AGENT_BIN = join(ROOT, 'dist/fleetwarden-agent.mjs');
const CYCLES = 20;
const GOAL_P90_MS = 100;
const GOAL_RSS_MIB = 40;

function stats(values: readonly number[]): { mean: number; p50: number; p90: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p90: at(0.9), max: s.at(-1) ?? Number.NaN };
}

function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

export async function benchAgent(): Promise<void> {
  console.log(`\n## agent: state change → port blocked (${CYCLES} cycles each, real iptables in a network namespace)`);
  const verdict = assess([AS_ROOT, ...IPTABLES, IPROUTE2], {});
  if (!verdict.run) {
    console.log(`skipped: ${verdict.message}`);
    return;
  }
  const rows: string[][] = [];
  const memories: string[] = [];
  for (const mode of [{ name: 'plain polls, 1 s period', args: ['--api-polling-period', '1', '--long-poll', '0'], pollS: 1 }, { name: 'defaults: 10 s period, long polls', args: [], pollS: 10 }]) {
    const r = await measure(mode.args, mode.pollS);
    rows.push([`${mode.name}: port blocked`, fmt(r.block.mean), fmt(r.block.p50), fmt(r.block.p90), fmt(r.block.max), fmt(r.block.p90 / GOAL_P90_MS, 2)]);
    rows.push([`${mode.name}: port open`, fmt(r.unblock.mean), fmt(r.unblock.p50), fmt(r.unblock.p90), fmt(r.unblock.max), fmt(r.unblock.p90 / GOAL_P90_MS, 2)]);
    memories.push(`${mode.name}: resident ${fmt(r.rss, 1)} MiB (peak ${fmt(r.hwm, 1)} MiB), ${fmt(r.rss / GOAL_RSS_MIB, 2)} × the ${GOAL_RSS_MIB} MiB goal`);
  }
  printTable(['transition', 'mean ms', 'p50 ms', 'p90 ms', 'max ms', `p90 / ${GOAL_P90_MS} ms goal`], rows);
  for (const m of memories) console.log(`agent memory after ${CYCLES * 2} state changes, ${m}`);
  console.log(`single file ${fmt(readFileSync(AGENT_BIN).length / 1024)} KiB`);
}

async function measure(args: readonly string[], pollS: number): Promise<{ block: ReturnType<typeof stats>; unblock: ReturnType<typeof stats>; rss: number; hwm: number }> {
  const store = new SqliteStore(':memory:');
  const config = parseConfigText('groups:\n  - name: web\n    fleets: {main: {min: 1}}\n');
  const ns = new InstanceNs('bench', 1);
  const lease = await store.acquireLease('web', 'bench', Date.now(), 86_400_000);
  if (lease === null) throw new Error('bench: lease not acquired');
  const changes = new ChangeFeed();
  const setState = async (state: LifecycleState): Promise<void> => {
    await store.saveTick({ group: 'web', lease, at: Date.now(), records: [{ instanceId: 'i-bench', group: 'web', state, since: Date.now(), reason: 'bench' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    // As `fleetwarden run` does after each tick it saves.
    changes.notify();
  };
  const api = createApiServer({ store, config, clock: { now: () => Date.now() }, live: null, adminTokenHash: hashToken('admin'), changes });
  try {
    await startEchoServer(ns, 8080);
    await setState('running');
    const { port } = await listen(api, ns.hostIp, 0);
    const { token } = await issueToken(store, 'agent', 'i-bench', 'bench', Date.now());
    const agent = ns.spawn([process.execPath, AGENT_BIN, '--api-url', `http://${ns.hostIp}:${port}`, '--instance-id', 'i-bench', ...args, '--on-draining-block-new-connections-to-ports', '8080', '--config', '/dev/null', '--log-file', '/dev/null'], { ...process.env, FLEETWARDEN_AGENT_TOKEN: token });
    const pid = agent.pid ?? 0;
    await new Promise((r) => setTimeout(r, 1500));
    const block: number[] = [];
    const unblock: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      // Start each cycle at a random phase of the agent's poll, as a real state change would.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(pollS, 2) * 1000));
      let t0 = performance.now();
      await setState('draining');
      if (!(await waitFor(async () => (await probe(ns.ip, 8080, 500)) === 'ECONNREFUSED', 2 * pollS * 1000 + 5000, 2))) throw new Error('the port was never blocked');
      block.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(pollS, 2) * 1000));
      t0 = performance.now();
      await setState('running');
      if (!(await waitFor(async () => (await probe(ns.ip, 8080, 500)) === 'ok', 2 * pollS * 1000 + 5000, 2))) throw new Error('the port was never unblocked');
      unblock.push(performance.now() - t0);
    }
    const mem = memory(pid);
    return { block: stats(block), unblock: stats(unblock), ...mem };
  } finally {
    ns.destroy();
    api.closeAllConnections();
    api.close();
    await store.close();
  }
}
