/**
 * Controller benchmarks (issue 17's goals, printed as ratios):
 *  - one tick for 10,000 instances in 50 groups with 200 windows: busy ticks (a scale-in under way) and ticks at
 *    rest, median; the pure resolve + plan part; the peak RSS of the process;
 *  - the same from 1,000 to 100,000 instances, each size in its own process (so each peak RSS is its own): the
 *    growth must be linear or better;
 *  - `simulate` of 7 days for 1,000 instances;
 *  - `config validate` of a 1 MiB file (the size limit) and the refusal of a 5.8 MB one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openSimulatedController, virtualTime } from '../src/app/compose.js';
import { CONTROLLER_HEAP_GROWING_PERCENT, CONTROLLER_SEMI_SPACE_MB, HEAP_GROWING_ENV, SEMI_SPACE_ENV } from '../src/app/heap.js';
import { simulate } from '../src/app/simulate.js';
import type { FleetConfig } from '../src/config/config.js';
import { loadConfigFile, MAX_CONFIG_BYTES, parseConfig } from '../src/config/load.js';
import { resolve } from '../src/config/resolve.js';
import { plan } from '../src/planner/plan.js';
import { recordAtRest } from '../src/reconciler/rest.js';
import { fmt, printTable } from './lib.js';

const GOAL_TICK_MS = 50;
const GOAL_PURE_MS = 20;
const GOAL_RSS_MIB = 150;
const GOAL_SIMULATE_S = 1;
const GOAL_VALIDATE_S = 3;

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

/** A median in ms for a table, or a dash when nothing was measured. */
const msOr = (ms: number | null, digits = 1): string => (ms === null ? '–' : `${fmt(ms, digits)} ms`);

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** What one size measures (printed by the child process as JSON). */
interface TickFigures {
  readonly instances: number;
  readonly groups: number;
  readonly windows: number;
  readonly busyMs: number;
  readonly busyTicks: number;
  /** Median of the ticks after the scale-in in which no group had anything to do (null: none had). */
  readonly restMs: number | null;
  readonly restTicks: number;
  /** Median of all the ticks after the scale-in: with 4 windows per group, the bigger fleets always have a group entering or leaving one. */
  readonly steadyMs: number;
  readonly steadyTicks: number;
  readonly pureMs: number;
  readonly peakMiB: number;
  /** The young generation the child ran with (tick-child.ts: src/app/heap.ts startYoungGeneration's note). */
  readonly young: string;
}

/**
 * One size, in this process: the fleet is adopted (first ticks), scales in to 60% (busy ticks: drains and stops
 * under way in every group), comes to rest, then ticks at rest every 30 s. Pure resolve + plan is timed on the
 * stored records of the rest state.
 */
export async function measureTicks(instances: number): Promise<Omit<TickFigures, 'young'>> {
  const perGroup = 200;
  const groups = Math.max(1, Math.round(instances / perGroup));
  const config = fleet(groups, perGroup - 4, 4); // each group: (perGroup - 4) main + 4 batch
  const { clock, sleep } = virtualTime(Date.parse('2026-06-01T00:00:00Z'));
  const dir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
  const ctl = openSimulatedController(config, { stateDir: dir, clock, sleep, worldFile: null, owner: 'bench' });
  const busy: number[] = [];
  const rest: number[] = [];
  let quiet = 0;
  let count = 0;
  try {
    for (let i = 0; i < 200 && quiet < 2; i++) {
      const t0 = performance.now();
      const summary = await ctl.reconciler.tick();
      const ms = performance.now() - t0;
      count = summary.groups.reduce((n, g) => n + g.plan.records.length, 0);
      const moving = summary.groups.some((g) => g.plan.commands.length > 0 || g.plan.transitions.length > 0 || !g.plan.records.every(recordAtRest));
      // The first ticks adopt every instance (one transition each) and wait for its readiness: not what a steady
      // controller does each tick. Busy ticks are those of the scale-in that follows (drains, stops, transitions).
      if (summary.groups.some((g) => g.plan.commands.some((c) => c.kind !== 'start') || g.plan.transitions.some((t) => t.from !== 'initializing'))) busy.push(ms);
      quiet = moving ? 0 : quiet + 1;
      clock.set(clock.now() + 30_000);
    }
    const steady: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const summary = await ctl.reconciler.tick();
      const ms = performance.now() - t0;
      steady.push(ms);
      if (!summary.groups.some((g) => g.plan.commands.length > 0 || g.plan.transitions.length > 0 || !g.plan.records.every(recordAtRest))) rest.push(ms);
      clock.set(clock.now() + 30_000);
    }
    // The pure part, on the stored records (loaded before timing): resolve + plan for every group.
    const observed = await ctl.simulator!.listInstances(['fleetwarden:group-name']);
    const health = await ctl.simulator!.targetHealth();
    const inputs = await Promise.all(
      config.groups.map(async (g) => {
        const state = await ctl.store.loadGroup(g.name);
        return { g, state, instances: observed.filter((o) => o.tags['fleetwarden:group-name'] === g.name).map((o) => ({ ...o, targets: health.get(o.id) ?? {} })) };
      }),
    );
    const pure: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t0 = performance.now();
      for (const { g, state, instances: members } of inputs) {
        const resolved = resolve({ group: g, now: clock.now(), subfleets: ['batch'] });
        plan({ config, group: g, resolved, instances: members, records: state.records, workload: state.workload, controls: [], eventResults: [], bypassResults: [], failures: [], now: clock.now() });
      }
      if (i >= 5) pure.push(performance.now() - t0); // after a warm-up: the optimised code a running controller has
    }
    return { instances: count, groups: config.groups.length, windows: config.groups.reduce((n, g) => n + g.windows.length, 0), busyMs: median(busy), busyTicks: busy.length, restMs: rest.length === 0 ? null : median(rest), restTicks: rest.length, steadyMs: median(steady), steadyTicks: steady.length, pureMs: median(pure), peakMiB: (process.resourceUsage().maxRSS * 1024) / 1_048_576 };
  } finally {
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The heap settings a size is measured with: V8's own; `fleetwarden run`'s default (the growth setting, and small
 * semi-spaces by a restart in place where node can); run's growth setting alone (FLEETWARDEN_SEMI_SPACE_MB=0); the
 * growth setting with the small young generation given in NODE_OPTIONS (what a node without process.execve needs).
 */
type HeapSetting = 'v8' | 'run' | 'growth' | 'growth+options' | 'large';

/** The young generation docs/development.md recommends above ~50,000 instances in one process (semi-space MiB). */
const LARGE_FLEET_SEMI_SPACE_MB = 16;

/** The young generation `fleetwarden run` gives node, as a node option (NODE_OPTIONS can carry it). */
export const SMALL_YOUNG_GENERATION = `--max-semi-space-size=${CONTROLLER_SEMI_SPACE_MB}`;

/** Runs `measureTicks` in a fresh process: its peak RSS is then that size's alone. */
function inChild(instances: number, heap: HeapSetting = 'run'): TickFigures {
  const child = fileURLToPath(new URL('./tick-child.js', import.meta.url));
  // Each row is the setting it names, whatever this shell sets.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== HEAP_GROWING_ENV && k !== SEMI_SPACE_ENV));
  env['NODE_OPTIONS'] = heap === 'growth+options' ? SMALL_YOUNG_GENERATION : '';
  if (heap === 'growth') env[SEMI_SPACE_ENV] = '0';
  if (heap === 'large') env[SEMI_SPACE_ENV] = String(LARGE_FLEET_SEMI_SPACE_MB);
  const r = spawnSync(process.execPath, [child, String(instances), ...(heap === 'v8' ? ['--v8-default-heap'] : [])], { encoding: 'utf8', maxBuffer: 1 << 20, env });
  if (r.status !== 0) throw new Error(`bench child for ${instances} instances failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TickFigures;
}

const ratio = (value: number, goal: number): string => `${fmt(value / goal, 2)}×`;

function benchTick(): void {
  const sizes = [1_000, 3_000, 10_000, 30_000, 100_000];
  const rows = sizes.map((n) => inChild(n));
  const ten = rows.find((r) => r.instances === 10_000);
  // The same 10,000 with V8's own heap (what `fleetwarden run`'s settings, src/app/heap.ts, change), with run's growth
  // setting alone, and with it and the small young generation in NODE_OPTIONS (docs/development.md).
  const untuned = inChild(10_000, 'v8');
  const growth = inChild(10_000, 'growth');
  const options = inChild(10_000, 'growth+options');
  if (ten !== undefined) {
    console.log(`\n== bench/controller: one tick, ${fmt(ten.instances)} instances in ${ten.groups} groups with ${ten.windows} windows ==`);
    printTable(
      ['measure', 'median', 'goal', 'ratio to goal'],
      [
        [`busy tick (drains and stops under way in every group; ${ten.busyTicks} ticks)`, `${fmt(ten.busyMs, 1)} ms`, `${GOAL_TICK_MS} ms`, ratio(ten.busyMs, GOAL_TICK_MS)],
        [`tick at rest (no group has anything to do; ${ten.restTicks} of ${ten.steadyTicks} ticks)`, msOr(ten.restMs), `${GOAL_TICK_MS} ms`, ten.restMs === null ? '–' : ratio(ten.restMs, GOAL_TICK_MS)],
        [`steady tick (all ${ten.steadyTicks} after the scale-in, windows entered and left included)`, `${fmt(ten.steadyMs, 1)} ms`, `${GOAL_TICK_MS} ms`, ratio(ten.steadyMs, GOAL_TICK_MS)],
        ['resolve + plan, all groups (records in memory)', `${fmt(ten.pureMs, 1)} ms`, `${GOAL_PURE_MS} ms`, ratio(ten.pureMs, GOAL_PURE_MS)],
        [`peak RSS of the process (heap as fleetwarden run sets it: ${CONTROLLER_HEAP_GROWING_PERCENT}% growth, the young generation below)`, `${fmt(ten.peakMiB, 0)} MiB`, `${GOAL_RSS_MIB} MiB`, ratio(ten.peakMiB, GOAL_RSS_MIB)],
      ],
    );
    console.log(`\n10,000 instances by heap setting (node ${process.version}; run's young generation here: ${ten.young}):`);
    printTable(
      ['heap', 'peak RSS', `ratio to ${GOAL_RSS_MIB} MiB`, 'busy tick', 'steady tick'],
      (
        [
          [`V8's own (${HEAP_GROWING_ENV}=0 ${SEMI_SPACE_ENV}=0)`, untuned],
          [`${CONTROLLER_HEAP_GROWING_PERCENT}% growth, V8's own young generation (${SEMI_SPACE_ENV}=0)`, growth],
          [`fleetwarden run's default (${CONTROLLER_HEAP_GROWING_PERCENT}% growth, its young generation)`, ten],
          [`${CONTROLLER_HEAP_GROWING_PERCENT}% growth + NODE_OPTIONS=${SMALL_YOUNG_GENERATION}`, options],
        ] as const
      ).map(([label, x]) => [label, `${fmt(x.peakMiB, 0)} MiB`, ratio(x.peakMiB, GOAL_RSS_MIB), `${fmt(x.busyMs, 1)} ms`, `${fmt(x.steadyMs, 1)} ms`]),
    );
  }
  console.log(`\n== bench/controller: how a tick grows with the fleet (200 instances and 4 windows per group; each size in its own process, heap as fleetwarden run sets it) ==`);
  const base = rows[0];
  printTable(
    ['instances', 'groups', 'busy tick', 'µs/instance', 'at rest (ticks)', 'µs/instance', 'steady tick', 'µs/instance', 'resolve + plan', 'peak RSS', 'RSS growth vs 1,000'],
    rows.map((r) => [
      fmt(r.instances),
      fmt(r.groups),
      `${fmt(r.busyMs, 1)} ms`,
      fmt((r.busyMs * 1000) / r.instances, 2),
      `${msOr(r.restMs)} (${r.restTicks})`,
      r.restMs === null ? '–' : fmt((r.restMs * 1000) / r.instances, 2),
      `${fmt(r.steadyMs, 1)} ms`,
      fmt((r.steadyMs * 1000) / r.instances, 2),
      `${fmt(r.pureMs, 1)} ms`,
      `${fmt(r.peakMiB, 0)} MiB`,
      base === undefined ? '' : `${fmt(r.peakMiB / base.peakMiB, 1)}× for ${fmt(r.instances / base.instances, 0)}× instances`,
    ]),
  );
  const last = rows[rows.length - 1];
  if (base !== undefined && last !== undefined) {
    for (const [what, of] of [['busy tick', (r: TickFigures) => r.busyMs], ['tick at rest', (r: TickFigures) => r.restMs], ['steady tick', (r: TickFigures) => r.steadyMs]] as const) {
      // The biggest size with a figure (a fleet this size may have had no tick with nothing to do anywhere).
      const top = [...rows].reverse().find((r) => of(r) !== null);
      const a = of(base);
      const b = top === undefined ? null : of(top);
      if (top === undefined || a === null || b === null || top === base) continue;
      console.log(`${what} per instance at ${fmt(top.instances)} vs ${fmt(base.instances)}: ${fmt(b / top.instances / (a / base.instances), 2)}× (1.00× = linear; below = better than linear)`);
    }
    // The biggest size again as docs/development.md says to run it (the small young generation costs time there).
    const large = inChild(last.instances, 'large');
    console.log(
      `${fmt(last.instances)} with ${SEMI_SPACE_ENV}=${LARGE_FLEET_SEMI_SPACE_MB} (recommended above ~50,000 instances in one process): busy tick ${fmt(large.busyMs, 1)} ms (${fmt(large.busyMs / large.instances / (base.busyMs / base.instances), 2)}× per instance vs ${fmt(base.instances)}), ` +
        `steady tick ${fmt(large.steadyMs, 1)} ms (${fmt(large.steadyMs / large.instances / (base.steadyMs / base.instances), 2)}×), resolve + plan ${fmt(large.pureMs, 1)} ms, peak RSS ${fmt(large.peakMiB, 0)} MiB (${fmt(large.peakMiB / base.peakMiB, 1)}× for ${fmt(large.instances / base.instances, 0)}× instances)`,
    );
  }
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
  console.log(`wall time ${fmt(seconds, 2)} s (goal ${GOAL_SIMULATE_S} s: ${ratio(seconds, GOAL_SIMULATE_S)}); ${fmt(report.ticks)} ticks, ${fmt((seconds * 1000) / report.ticks, 2)} ms each (fixed ${config.controller.tickIntervalMs / 1000} s steps would be ${fmt(steps)}: ${fmt(steps / report.ticks, 1)}x fewer); ${fmt(report.starts)} starts, ${fmt(report.stops)} stops, ${fmt(events)} events`);
  // The fleet above has no maintenance tasks. The demo's (a window every two hours with a rolling restart task, a
  // tiered workload) keeps the controller busy most of the week: many more ticks, each with executions to advance.
  const demo = loadConfigFile(fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url)));
  const d0 = performance.now();
  const tasks = await simulate(demo, from, to, () => undefined);
  const demoSeconds = (performance.now() - d0) / 1000;
  console.log(`the demo fleet (examples/demo.yaml: ${fmt(demo.groups.length)} groups, maintenance tasks every 2 h), 7 days: ${fmt(demoSeconds, 2)} s; ${fmt(tasks.ticks)} ticks, ${fmt((demoSeconds * 1000) / tasks.ticks, 2)} ms each; ${fmt(tasks.tasks.run)} tasks run, at most ${fmt(tasks.maxOutOfService)} out of service`);
}

/** A configuration of `groups` small groups, as YAML text. */
function manyGroups(groups: number): string {
  let s = 'controller:\n  tickInterval: 30s\n  leaseTtl: 2m\ngroups:\n';
  for (let i = 0; i < groups; i++) s += `  - name: group-${i}\n    fleets:\n      main: { min: 1, desired: 2 }\n`;
  return s;
}

function benchValidate(): void {
  const dir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
  try {
    const rows: string[][] = [];
    // Just under the limit, half of it, and the 5.8 MB file of 100,000 groups the issue measured (refused).
    for (const groups of [7_500, 15_000, 100_000]) {
      const text = manyGroups(groups);
      const file = join(dir, `${groups}.yaml`);
      writeFileSync(file, text);
      const t0 = performance.now();
      let outcome = 'valid';
      try {
        loadConfigFile(file);
      } catch (err) {
        outcome = `refused: ${(err as Error).message.slice(0, 60)}…`;
      }
      const s = (performance.now() - t0) / 1000;
      rows.push([fmt(groups), `${fmt(text.length / 1_048_576, 2)} MiB`, `${fmt(s, 2)} s`, ratio(s, GOAL_VALIDATE_S), outcome]);
    }
    console.log(`\n== bench/controller: config validate (limit ${MAX_CONFIG_BYTES / 1_048_576} MiB) ==`);
    printTable(['groups', 'file', 'time', `ratio to ${GOAL_VALIDATE_S} s`, 'outcome'], rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchController(): Promise<void> {
  benchTick();
  await benchSimulate();
  benchValidate();
}
