/**
 * Controller benchmarks:
 *  - one tick (observe + resolve + plan + execute + record) for 10,000 instances in 50 groups with 200 windows,
 *    and the pure resolve + plan part alone: median time and peak memory;
 *  - `simulate` of 7 days for 1,000 instances: wall time and ticks.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSimulatedController, virtualTime } from '../src/app/compose.js';
import { simulate } from '../src/app/simulate.js';
import type { FleetConfig } from '../src/config/config.js';
import { parseConfig } from '../src/config/load.js';
import { resolve } from '../src/config/resolve.js';
import { plan } from '../src/planner/plan.js';
import { fmt, printTable } from './lib.js';

export function fleet(groups: number, perGroup: number, windowsPerGroup: number): FleetConfig {
  const names = Array.from({ length: groups }, (_, i) => `g${String(i).padStart(2, '0')}`);
  return parseConfig({
    controller: { tickInterval: '30s', leaseTtl: '5m' },
    simulator: {
      start: '2026-06-01T00:00:00Z',
      groups: Object.fromEntries(names.map((n) => [n, { instances: perGroup, lighthouse: 2, running: true, subfleets: { batch: 4 } }])),
    },
    groups: names.map((n, i) => ({
      name: n,
      fleets: { main: { min: 2, desired: '60%' }, subfleets: { batch: { state: 'stopped' } } },
      events: { 'enter-maintenance-window-period': { enabled: true }, 'exit-maintenance-window-period': { enabled: true } },
      maintenance: {
        windows: Array.from({ length: windowsPerGroup }, (_, w) => ({
          name: `FW-${n}-w${w}`,
          schedule: `cron(${(i * 7 + w * 13) % 60} ${(i + w * 5) % 24} ? * ${['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'][(i + w) % 7] ?? 'MON'} *)`,
          timezone: ['Europe/London', 'America/New_York', 'Asia/Tokyo', 'UTC'][w % 4],
          durationHours: 2,
        })),
      },
    })),
  });
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function benchTick(): Promise<void> {
  const config = fleet(50, 196, 4); // 50 × (196 main + 4 batch) = 10,000 instances; 200 windows
  const { clock, sleep } = virtualTime(Date.parse('2026-06-01T00:00:00Z'));
  const dir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
  const ctl = openSimulatedController(config, { stateDir: dir, clock, sleep, worldFile: null, owner: 'bench' });
  const total: number[] = [];
  const pure: number[] = [];
  let instances = 0;
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    const summary = await ctl.reconciler.tick();
    const t1 = performance.now();
    if (i >= 2) total.push(t1 - t0); // the first ticks adopt 10,000 instances and start/drain; steady state after
    instances = summary.groups.reduce((n, g) => n + g.plan.records.length, 0);
    clock.set(clock.now() + 30_000);
  }
  // The pure part, on the stored records: resolve + plan for every group.
  const observed = await ctl.simulator!.listInstances(['fleetwarden:group-name']);
  const health = await ctl.simulator!.targetHealth();
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    for (const g of config.groups) {
      const state = await ctl.store.loadGroup(g.name);
      const resolved = resolve({ group: g, now: clock.now(), subfleets: ['batch'] });
      plan({ config, group: g, resolved, instances: observed.filter((o) => o.tags['fleetwarden:group-name'] === g.name).map((o) => ({ ...o, targets: health.get(o.id) ?? {} })), records: state.records, workload: state.workload, controls: [], eventResults: [], bypassResults: [], failures: [], now: clock.now() });
    }
    pure.push(performance.now() - t0);
  }
  const peak = process.resourceUsage().maxRSS * 1024;
  await ctl.close();
  console.log(`\n== bench/controller: one tick, ${fmt(instances)} instances in ${config.groups.length} groups with ${config.groups.reduce((n, g) => n + g.windows.length, 0)} windows ==`);
  printTable(
    ['measure', 'median', 'min', 'max'],
    [
      ['full tick (observe, resolve, plan, execute, record to SQLite)', `${fmt(median(total), 1)} ms`, `${fmt(Math.min(...total), 1)} ms`, `${fmt(Math.max(...total), 1)} ms`],
      ['resolve + plan, all groups (load records included)', `${fmt(median(pure), 1)} ms`, `${fmt(Math.min(...pure), 1)} ms`, `${fmt(Math.max(...pure), 1)} ms`],
    ],
  );
  console.log(`peak RSS ${fmt(peak / 1_048_576, 0)} MiB (${fmt((peak - rssBefore) / 1_048_576, 0)} MiB above the start of the benchmark); ${fmt((median(total) * 1000) / instances, 1)} µs per instance per tick`);
}

async function benchSimulate(): Promise<void> {
  const config = fleet(10, 96, 2); // 10 × 100 = 1,000 instances
  const from = Date.parse('2026-06-01T00:00:00Z');
  const to = from + 7 * 86_400_000;
  let events = 0;
  const t0 = performance.now();
  const report = await simulate(config, from, to, () => {
    events++;
  });
  const seconds = (performance.now() - t0) / 1000;
  const steps = (to - from) / config.controller.tickIntervalMs;
  console.log(`\n== bench/controller: simulate 7 days, 1,000 instances in 10 groups with 20 windows ==`);
  console.log(`wall time ${fmt(seconds, 2)} s; ${fmt(report.ticks)} ticks (fixed ${config.controller.tickIntervalMs / 1000} s steps would be ${fmt(steps)}: ${fmt(steps / report.ticks, 1)}x fewer); ${fmt(report.starts)} starts, ${fmt(report.stops)} stops, ${fmt(events)} events; ${fmt((7 * 86_400) / seconds)} simulated seconds per real second`);
}

export async function benchController(): Promise<void> {
  await benchTick();
  await benchSimulate();
}
