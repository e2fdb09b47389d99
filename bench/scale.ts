/**
 * The scale benchmark (issue 12), in simulation and on paper: 100,000 instances in 1,000 groups over 10 accounts and
 * 3 regions, run as the Lambda deployment runs it (src/lambda/: one worker per group per minute, reconcileGroup at
 * the group's tick interval).
 *
 * In simulation (measured): one 100-instance group reconciled with reconcileGroup, as a worker does, on the
 * simulator with the DynamoDB store on dynalite (the table the stack creates, served locally). The worker's own time
 * per tick (observe + plan + record; dynalite's own work in this process included, so an upper bound), and every
 * call counted by wrapping the ports (provider, lb, runner, windowSource) and the DynamoDB client (with the
 * consumed capacity dynalite reports) — a busy tick (a scale-in under way) and a tick at rest.
 *
 * On paper (bench/scale-model.ts): each port call turned into the AWS calls the adapters make for it
 * (src/providers/aws/*), then calls per second per account-region against the documented limits, and the month's bill.
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { simulatorSpec } from '../src/app/compose.js';
import type { FleetConfig } from '../src/config/config.js';
import { parseConfig } from '../src/config/load.js';
import { VirtualClock } from '../src/domain/time.js';
import { Simulator } from '../src/providers/simulator/simulator.js';
import { Reconciler } from '../src/reconciler/reconciler.js';
import { DynamoStore } from '../src/store/dynamodb/store.js';
import { fmt, printTable } from './lib.js';
import { type ApiRate, LIMITS, PRICES, type ScaleInput, scaleModel } from './scale-model.js';

const PER_GROUP = 100;
/** The stack's worker memory (infra/fleetwarden.ts: memorySize 512, arm64). */
const MEMORY_MB = 512;
/** Target groups per account-region: one per group (each group behind its own target group). */
const TG_PER_GROUP = 1;

type Counts = Map<string, number>;

/** The object, with each method call counted under `name.method` (calls the object makes on itself are not). */
function counting<T extends object>(target: T, name: string, counts: Counts): T {
  return new Proxy(target, {
    get(t, p) {
      const v: unknown = Reflect.get(t, p, t);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const key = `${name}.${String(p)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

interface DynamoTally {
  calls: Counts;
  read: number;
  write: number;
}

/** Counts the DynamoDB operations a client sends and the capacity dynalite says they consumed. */
function tallyDynamo(client: DynamoDBClient, tally: DynamoTally): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = context.commandName ?? 'unknown';
      tally.calls.set(op, (tally.calls.get(op) ?? 0) + 1);
      (args.input as Record<string, unknown>)['ReturnConsumedCapacity'] = 'TOTAL';
      const out = await next(args);
      const cc = (out.output as { ConsumedCapacity?: { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
      const units = Array.isArray(cc) ? cc.reduce((s, c) => s + (c.CapacityUnits ?? 0), 0) : (cc?.CapacityUnits ?? 0);
      // Reads by the operation's kind: GetItem, Query, Scan, BatchGet, TransactGet; everything else writes.
      if (/^(Get|Query|Scan|BatchGet|TransactGet)/.test(op)) tally.read += units;
      else tally.write += units;
      return out;
    },
    { step: 'initialize', name: 'fwScaleTally' },
  );
}

function config(): FleetConfig {
  // Two groups, so reconcileGroup lists its own group only (a worker in a many-group deployment).
  return parseConfig({
    controller: { tickInterval: '15s', leaseTtl: '2m' },
    simulator: { start: '2026-06-01T00:00:00Z', groups: { g0: { instances: PER_GROUP, lighthouse: 2, running: true }, g1: { instances: PER_GROUP, running: true } } },
    groups: ['g0', 'g1'].map((name) => ({
      name,
      fleets: { main: { min: 2, desired: '100%' } },
      maintenance: { windows: [{ name: `FW-${name}-weekly`, schedule: 'cron(0 3 ? * SUN *)', durationHours: 2 }] },
    })),
  });
}

interface TickCount {
  readonly ms: number;
  readonly ports: Counts;
  readonly dynamo: Counts;
  readonly read: number;
  readonly write: number;
  readonly logBytes: number;
  readonly moving: boolean;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** The simulation: returns one busy and one rest tick (medians of time; counts of the median tick). */
async function simulate(): Promise<{ busy: TickCount; rest: TickCount; first: TickCount; busyTicks: number }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
    await DynamoStore.createTable(client, 'fw-scale');
    const tally: DynamoTally = { calls: new Map(), read: 0, write: 0 };
    tallyDynamo(client, tally);
    const cfg = config();
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const sim = new Simulator(simulatorSpec(cfg), cfg.naming, clock, null);
    const ports: Counts = new Map();
    let logBytes = 0;
    const reconciler = new Reconciler({
      config: cfg,
      provider: counting(sim, 'provider', ports),
      lb: counting(sim, 'lb', ports),
      runner: counting(sim, 'runner', ports),
      windowSource: counting(sim, 'windowSource', ports),
      store: new DynamoStore({ table: 'fw-scale', client }),
      clock,
      owner: 'bench',
      sleep: () => Promise.resolve(),
      expiresItself: true,
      // The worker logs each event as a JSON line (src/lambda/deployment.ts).
      onEvent: (e) => {
        logBytes += JSON.stringify(e).length + 1;
      },
    });
    const tick = async (): Promise<TickCount> => {
      ports.clear();
      tally.calls.clear();
      tally.read = 0;
      tally.write = 0;
      logBytes = 0;
      const t0 = performance.now();
      const s = await reconciler.reconcileGroup('g0');
      const ms = performance.now() - t0;
      const g = s.groups[0];
      const moving = g !== undefined && (g.plan.commands.length > 0 || g.plan.transitions.length > 0);
      clock.set(clock.now() + 15_000);
      return { ms, ports: new Map(ports), dynamo: new Map(tally.calls), read: tally.read, write: tally.write, logBytes, moving };
    };
    const first = await tick();
    // Adoption and readiness: until the group stops moving.
    for (let i = 0; i < 40 && (await tick()).moving; i++);
    // A scale-in to 60%: drains and stops under way — busy ticks (the change is a stored override, as the API makes).
    const store = new DynamoStore({ table: 'fw-scale', client });
    await store.setOverride({ group: 'g0', key: 'fleets.main.desired', value: { kind: 'percent', value: 60 }, expiresAt: clock.now() + 3_600_000, reason: 'bench' } as never, clock.now());
    const busy: TickCount[] = [];
    for (let i = 0; i < 60; i++) {
      const t = await tick();
      if (!t.moving && busy.length > 0) break;
      if (t.moving) busy.push(t);
    }
    const rest: TickCount[] = [];
    for (let i = 0; i < 8; i++) rest.push(await tick());
    // The median time; the mean of the counts (commands come in some busy ticks only).
    const pick = (ts: readonly TickCount[]): TickCount => {
      const mean = (get: (t: TickCount) => Counts): Counts => {
        const m: Counts = new Map();
        for (const t of ts) for (const [k, v] of get(t)) m.set(k, (m.get(k) ?? 0) + v / ts.length);
        return m;
      };
      const avg = (get: (t: TickCount) => number): number => ts.reduce((s, t) => s + get(t), 0) / ts.length;
      return { ms: median(ts.map((t) => t.ms)), ports: mean((t) => t.ports), dynamo: mean((t) => t.dynamo), read: avg((t) => t.read), write: avg((t) => t.write), logBytes: avg((t) => t.logBytes), moving: ts.some((t) => t.moving) };
    };
    await reconciler.release();
    return { busy: pick(busy.length > 0 ? busy : [first]), rest: pick(rest), first, busyTicks: busy.length };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/**
 * The AWS calls behind one tick's port calls, by the adapters' code (src/providers/aws/*), for a group of `n`
 * instances in an account-region holding `tgs` managed target groups and `windows` SSM windows:
 *  - listInstances (filtered on the group's tag): ceil(n/1000) DescribeInstances; DescribeInstanceStatus for
 *    instances not yet known ok/impaired, and all of them (ceil(n/100)) every 5 minutes per container — counted
 *    once per worker minute (a container is not tied to a group, so its status cache rarely fits the next group);
 *  - targetHealth: one DescribeTargetHealth per target group of the group reconciled (`groupTgs`), every tick — a
 *    worker reads only its own group's target groups (Elbv2LoadBalancer.targetHealth(groups));
 *    the discovery behind it (DescribeTargetGroups ceil(tgs/400) + DescribeTags ceil(tgs/20)) every 5 minutes;
 *  - deregistrationDelays: DescribeTargetGroupAttributes per target group every 30 minutes (per container);
 *  - start/stop: one call per 25 instances; register/deregister: one call each; runner calls ≈ one SSM call each;
 *  - windowSource.list (ssm.discovery only): ceil(windows/100) DescribeMaintenanceWindows.
 */
export function awsRates(ports: Counts, n: number, tgs: number, windows: number, groupTgs = 1): ApiRate[] {
  const c = (k: string): number => ports.get(k) ?? 0;
  const rates: ApiRate[] = [
    { api: 'DescribeInstances', bucket: 'ec2-describe', perTick: c('provider.listInstances') * Math.ceil(n / 1000), perMinute: 0 },
    { api: 'DescribeInstanceStatus', bucket: 'ec2-describe', perTick: 0, perMinute: Math.ceil(n / 100) },
    { api: 'DescribeTargetHealth', bucket: 'elbv2-describe', perTick: c('lb.targetHealth') * groupTgs, perMinute: 0 },
    { api: 'DescribeTargetGroups', bucket: 'elbv2-describe', perTick: 0, perMinute: Math.ceil(tgs / 400) / 5 },
    { api: 'DescribeTags', bucket: 'elbv2-describe', perTick: 0, perMinute: Math.ceil(tgs / 20) / 5 },
    { api: 'DescribeTargetGroupAttributes', bucket: 'elbv2-describe', perTick: 0, perMinute: tgs / 30 },
    { api: 'StartInstances/StopInstances', bucket: 'ec2-mutating', perTick: c('provider.start') + c('provider.stop'), perMinute: 0 },
    { api: 'RegisterTargets/DeregisterTargets', bucket: 'elbv2-mutating', perTick: c('lb.register') + c('lb.deregister'), perMinute: 0 },
    { api: 'SSM (SendCommand, ListCommandInvocations, …)', bucket: 'ssm', perTick: [...ports].filter(([k]) => k.startsWith('runner.')).reduce((s, [, v]) => s + v, 0), perMinute: 0 },
    { api: 'DescribeMaintenanceWindows', bucket: 'ssm', perTick: c('windowSource.list') * Math.ceil(windows / 100), perMinute: 0 },
  ];
  return rates;
}

const list = (m: Counts): string => [...m].sort().map(([k, v]) => `${k.replace(/Command$/, '')} ${fmt(v, Number.isInteger(v) ? 0 : 1)}`).join(', ');

export async function benchScale(): Promise<void> {
  console.log('\n== bench/scale: 100,000 instances, 1,000 groups, 10 accounts × 3 regions (Lambda deployment) ==');
  const { busy, rest, first, busyTicks } = await simulate();
  console.log(`In simulation: one ${PER_GROUP}-instance group, reconcileGroup on the simulator, DynamoDB store on dynalite (time includes dynalite, in-process)`);
  printTable(
    ['tick', 'worker ms', 'port calls', 'DynamoDB calls', 'RRU', 'WRU', 'log bytes'],
    [
      ['first (adopts 100)', fmt(first.ms, 1), list(first.ports), list(first.dynamo), fmt(first.read, 1), fmt(first.write, 1), fmt(first.logBytes)],
      [`busy (median of ${busyTicks})`, fmt(busy.ms, 1), list(busy.ports), list(busy.dynamo), fmt(busy.read, 1), fmt(busy.write, 1), fmt(busy.logBytes)],
      ['at rest (median of 8)', fmt(rest.ms, 1), list(rest.ports), list(rest.dynamo), fmt(rest.read, 1), fmt(rest.write, 1), fmt(rest.logBytes)],
    ],
  );

  const groups = 1000;
  const accounts = 10;
  const regions = 3;
  const tgs = Math.ceil((groups / (accounts * regions)) * TG_PER_GROUP);
  const base = (tickSeconds: number, busyShare: number): ScaleInput => ({
    groups,
    accounts,
    regions,
    tickSeconds,
    busyShare,
    busy: awsRates(busy.ports, PER_GROUP, tgs, 0, TG_PER_GROUP),
    rest: awsRates(rest.ports, PER_GROUP, tgs, 0, TG_PER_GROUP),
    busyMs: busy.ms,
    restMs: rest.ms,
    invocationOverheadMs: 50,
    billedWhileSleeping: true,
    memoryMb: MEMORY_MB,
    busyRead: busy.read,
    busyWrite: busy.write,
    restRead: rest.read,
    restWrite: rest.write,
    schedulerReadsPerGroup: 1,
    busyLogBytes: busy.logBytes,
    restLogBytes: rest.logBytes,
    invocationLogBytes: 600,
    busyS3Puts: 0,
  });
  // Mitigated: a worker is billed for its work only (its target-health reads are per group as built, as in base)
  // (started at its offset and tick times, e.g. by per-group schedules or delayed messages, instead of sleeping).
  const mitigated = (tickSeconds: number): ScaleInput => ({ ...base(tickSeconds, 0.1), busy: awsRates(busy.ports, PER_GROUP, tgs, 0, TG_PER_GROUP), rest: awsRates(rest.ports, PER_GROUP, tgs, 0, TG_PER_GROUP), billedWhileSleeping: false });
  // Built (src/lambda): a worker invocation per tick, fired by the scheduler that stays its minute (billed 60 s a
  // minute); a group at rest fired once per FLEETWARDEN_REST_MAX_MS (5 min) at most, each tick reading the wake
  // counters (2 GetItems, 1 RRU) and a tick at rest writing its due (1 WRU); target health of the group's own target
  // groups only, as in base.
  const built = (tickSeconds: number): ScaleInput => ({
    ...base(tickSeconds, 0.1),
    billedWhileSleeping: false,
    restTicksPerMinute: 1 / 5,
    schedulerBilledSeconds: 60,
    busyRead: busy.read + 1,
    restRead: rest.read + 1,
    restWrite: rest.write + 1,
  });
  const cases: [string, ScaleInput][] = [
    ['1 min tick, 10% busy', base(60, 0.1)],
    ['15 s tick, 10% busy', base(15, 0.1)],
    ['15 s, mitigated', mitigated(15)],
    ['15 s, built', built(15)],
  ];
  console.log(`\nOn paper: ${fmt(tgs)} groups and target groups per account-region; calls per account-region (EC2, ELBv2, SSM throttle per account per region)`);
  const rows: string[][] = [];
  for (const [name, input] of cases) {
    const out = scaleModel(input);
    for (const l of out.loads) {
      const lim = LIMITS[l.bucket];
      rows.push([name, l.bucket, fmt(l.perMinute, 0), fmt(l.perSecond, 2), `${lim.burst} / ${lim.perSecond}/s`, `${fmt(l.ratio, 2)}×${l.ratio > 1 ? ' OVER' : ''}`, l.apis.join(', ')]);
    }
  }
  printTable(['case', 'bucket', 'calls/min', 'calls/s', 'limit (burst/refill)', 'ratio', 'APIs'], rows);
  const costRows: string[][] = [];
  for (const [name, input] of cases) {
    const out = scaleModel(input);
    for (const c of out.costs) costRows.push([name, c.item, `${fmt(c.quantity, c.quantity < 100 ? 2 : 0)} ${c.unit}`, `$${fmt(c.usd, 2)}`]);
    costRows.push([name, 'total per month', '', `$${fmt(out.totalUsd, 2)}`]);
    console.log(`${name}: ${fmt(out.workerInvocationsPerMonth)} worker invocations/month of ${fmt(out.billedMs / 1000, 1)} s billed, ${fmt(out.gbSecondsPerMonth)} GB-s, ${fmt(out.readUnitsPerTick, 1)} RRU + ${fmt(out.writeUnitsPerTick, 1)} WRU per group tick`);
  }
  printTable(['case', 'item (30-day month, us-east-1)', 'quantity', 'USD'], costRows);
  console.log(`Assumed list prices (us-east-1, 2026-11): ${Object.entries(PRICES).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
