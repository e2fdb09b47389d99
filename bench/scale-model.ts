/**
 * The scale benchmark's paper model (bench/scale.ts): from what one group's worker does per tick and per minute
 * (counted on the simulator) to API calls per second per account-region against the documented request-rate limits,
 * and to a monthly bill at assumed list prices. Pure arithmetic, so a unit test pins it (test/bench/scale-model.test.ts).
 */

/** One AWS API a group's worker calls: how often, and which throttling bucket it draws from. */
export interface ApiRate {
  readonly api: string;
  /** The token bucket it draws from (per account per region): a key of LIMITS. */
  readonly bucket: keyof typeof LIMITS;
  /** Calls per tick of one group. */
  readonly perTick: number;
  /** Calls per minute of one group whatever its tick (cache refreshes, a worker's first tick), amortised. */
  readonly perMinute: number;
}

/**
 * Documented default request-rate limits, per account per region (token bucket: burst, refill per second).
 * EC2: docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html (non-mutating Describe* e.g. DescribeHosts:
 * bucket 100, refill 20/s; mutating actions such as StartInstances/StopInstances: the brief's 200 / 10/s, not
 * confirmed in the stored pages). ELBv2: docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html
 * (non-mutating Describe*: bucket 40, refill 10/s; RegisterTargets/DeregisterTargets assumed the same). SSM: no page
 * found: assumed 40 / 10/s (an assumption; raise a quota request before relying on it).
 */
export const LIMITS = {
  'ec2-describe': { burst: 100, perSecond: 20 },
  'ec2-mutating': { burst: 200, perSecond: 10 },
  'elbv2-describe': { burst: 40, perSecond: 10 },
  'elbv2-mutating': { burst: 40, perSecond: 10 },
  ssm: { burst: 40, perSecond: 10 },
} as const;

/**
 * Assumed list prices, us-east-1, as of 2026-11 (from the providers' pricing pages as remembered and cross-checked
 * with third-party price tables; check https://aws.amazon.com/pricing before budgeting).
 */
export const PRICES = {
  lambdaPerMillionRequests: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  logsIngestPerGb: 0.5,
  schedulerPerMillion: 1.0,
  s3PerThousandPuts: 0.005,
} as const;

export interface ScaleInput {
  readonly groups: number;
  readonly accounts: number;
  readonly regions: number;
  readonly tickSeconds: number;
  /** Share of group-ticks that are busy (the rest are at rest). */
  readonly busyShare: number;
  readonly busy: readonly ApiRate[];
  readonly rest: readonly ApiRate[];
  /** The worker's own milliseconds per tick of one group, busy and at rest. */
  readonly busyMs: number;
  readonly restMs: number;
  /** Milliseconds a worker invocation spends besides its ticks (its start, the lease release). */
  readonly invocationOverheadMs: number;
  /**
   * true: the invocation is billed for its sleeps too (its offset, and between ticks inside one invocation, as
   * src/lambda/worker.ts does); false: only for its work.
   */
  readonly billedWhileSleeping: boolean;
  readonly memoryMb: number;
  /**
   * Ticks per minute of a group at rest, when the scheduler skips groups at rest until due (src/lambda/scheduler.ts:
   * at least once per FLEETWARDEN_REST_MAX_MS); absent: every tick, like a busy group.
   */
  readonly restTicksPerMinute?: number;
  /** Billed seconds of the scheduler per minute (it stays its minute firing the ticks); absent: 0. */
  readonly schedulerBilledSeconds?: number;
  /** DynamoDB request units per group tick, busy and at rest (on demand). */
  readonly busyRead: number;
  readonly busyWrite: number;
  readonly restRead: number;
  readonly restWrite: number;
  /** DynamoDB units per scheduler run (its GetItem per group). */
  readonly schedulerReadsPerGroup: number;
  /** Log bytes per group tick, busy and at rest, and per invocation (START/END/REPORT, the metric line). */
  readonly busyLogBytes: number;
  readonly restLogBytes: number;
  readonly invocationLogBytes: number;
  /** S3 PUTs per busy tick (full task outputs). */
  readonly busyS3Puts: number;
}

export interface BucketLoad {
  readonly bucket: keyof typeof LIMITS;
  /** Calls per minute in one account-region. */
  readonly perMinute: number;
  readonly perSecond: number;
  /** perSecond over the bucket's refill rate: above 1 the bucket drains, whatever the spread. */
  readonly ratio: number;
  readonly apis: readonly string[];
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
}

export interface ScaleOutput {
  readonly groupsPerAccountRegion: number;
  readonly ticksPerMinute: number;
  readonly loads: readonly BucketLoad[];
  readonly workerInvocationsPerMonth: number;
  /** Billed milliseconds of one worker invocation. */
  readonly billedMs: number;
  readonly gbSecondsPerMonth: number;
  readonly readUnitsPerTick: number;
  readonly writeUnitsPerTick: number;
  readonly costs: readonly CostLine[];
  readonly totalUsd: number;
}

/** Minutes in a 30-day month. */
export const MONTH_MINUTES = 30 * 24 * 60;

export function scaleModel(x: ScaleInput): ScaleOutput {
  const perAr = x.groups / (x.accounts * x.regions);
  const ticksPerMinute = Math.max(1, 60 / x.tickSeconds);
  // Group-ticks per group-minute, busy and at rest; `mix` is the per-tick mean over them.
  const busyTicks = x.busyShare * ticksPerMinute;
  const restTicks = (1 - x.busyShare) * (x.restTicksPerMinute ?? ticksPerMinute);
  const ticksPerGroupMinute = busyTicks + restTicks;
  const mix = (busy: number, rest: number): number => (busyTicks * busy + restTicks * rest) / ticksPerGroupMinute;
  // Calls per minute per group, by API: busy and rest ticks mixed by the busy share.
  const byBucket = new Map<keyof typeof LIMITS, { perMinute: number; apis: Set<string> }>();
  // `ticks`: that kind's group-ticks per group-minute; `share`: the share of groups its per-minute calls are made for.
  const add = (rates: readonly ApiRate[], ticks: number, share: number): void => {
    for (const r of rates) {
      const b = byBucket.get(r.bucket) ?? { perMinute: 0, apis: new Set<string>() };
      b.perMinute += (r.perTick * ticks + share * r.perMinute) * perAr;
      if (r.perTick > 0 || r.perMinute > 0) b.apis.add(r.api);
      byBucket.set(r.bucket, b);
    }
  };
  add(x.busy, busyTicks, x.busyShare);
  add(x.rest, restTicks, 1 - x.busyShare);
  const loads: BucketLoad[] = [...byBucket].map(([bucket, b]) => ({ bucket, perMinute: b.perMinute, perSecond: b.perMinute / 60, ratio: b.perMinute / 60 / LIMITS[bucket].perSecond, apis: [...b.apis].sort() }));

  // Sleeping: one invocation per group per minute (the scheduler's); work only: one per group tick.
  const workerInvocationsPerMonth = x.groups * MONTH_MINUTES * (x.billedWhileSleeping ? 1 : ticksPerGroupMinute);
  const tickMs = mix(x.busyMs, x.restMs);
  // As src/lambda/worker.ts runs: it sleeps its offset (on average half the interval, at most half a minute), then
  // ticks every interval within the minute; the sleeps are billed. Work only: what a worker started at each tick's
  // time would be billed.
  const billedMs = x.billedWhileSleeping
    ? (Math.min(x.tickSeconds, 60) * 1000) / 2 + (ticksPerMinute - 1) * x.tickSeconds * 1000 + tickMs + x.invocationOverheadMs
    : tickMs + x.invocationOverheadMs;
  const gbSecondsPerMonth = (workerInvocationsPerMonth * (billedMs / 1000) + MONTH_MINUTES * (x.schedulerBilledSeconds ?? 0)) * (x.memoryMb / 1024);
  const readUnitsPerTick = mix(x.busyRead, x.restRead);
  const writeUnitsPerTick = mix(x.busyWrite, x.restWrite);
  const groupTicksPerMonth = x.groups * ticksPerGroupMinute * MONTH_MINUTES;
  const reads = groupTicksPerMonth * readUnitsPerTick + x.groups * MONTH_MINUTES * x.schedulerReadsPerGroup;
  const writes = groupTicksPerMonth * writeUnitsPerTick;
  const logGb = (groupTicksPerMonth * mix(x.busyLogBytes, x.restLogBytes) + (workerInvocationsPerMonth + MONTH_MINUTES) * x.invocationLogBytes) / 1e9;
  const s3Puts = x.groups * busyTicks * MONTH_MINUTES * x.busyS3Puts;
  const lambdaRequests = workerInvocationsPerMonth + MONTH_MINUTES; // the workers and the scheduler
  const costs: CostLine[] = [
    { item: 'Lambda requests (workers + scheduler)', quantity: lambdaRequests, unit: 'requests', usd: (lambdaRequests / 1e6) * PRICES.lambdaPerMillionRequests },
    { item: `Lambda duration (arm64, ${x.memoryMb} MB)`, quantity: gbSecondsPerMonth, unit: 'GB-s', usd: gbSecondsPerMonth * PRICES.lambdaArmPerGbSecond },
    { item: 'DynamoDB on-demand reads', quantity: reads, unit: 'RRU', usd: (reads / 1e6) * PRICES.dynamoPerMillionReadUnits },
    { item: 'DynamoDB on-demand writes', quantity: writes, unit: 'WRU', usd: (writes / 1e6) * PRICES.dynamoPerMillionWriteUnits },
    { item: 'CloudWatch Logs ingestion', quantity: logGb, unit: 'GB', usd: logGb * PRICES.logsIngestPerGb },
    { item: 'EventBridge Scheduler', quantity: MONTH_MINUTES, unit: 'invocations', usd: (MONTH_MINUTES / 1e6) * PRICES.schedulerPerMillion },
    { item: 'S3 PUTs (task outputs)', quantity: s3Puts, unit: 'PUT', usd: (s3Puts / 1000) * PRICES.s3PerThousandPuts },
  ];
  return { groupsPerAccountRegion: perAr, ticksPerMinute, loads, workerInvocationsPerMonth, billedMs, gbSecondsPerMonth, readUnitsPerTick, writeUnitsPerTick, costs, totalUsd: costs.reduce((s, c) => s + c.usd, 0) };
}
