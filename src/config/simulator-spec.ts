import { z } from 'zod';
import type { SsmWindowInfo } from './ssm-windows.js';

/** Bounds of the simulated world (docs/configuration.md#bounds): past them the simulation would never finish. */
const range = (min: number, max: number) => {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const upTo = (max: number) => range(0, max);
const INSTANCES = upTo(100_000);

/** What a simulated in-instance script does. Default: the script is absent, which counts as success. */
const scriptSchema = z.strictObject({
  /** Fails until the instance has been up this long (e.g. ready-for-operation after 4m). */
  succeedAfterUptime: z.union([z.string(), z.number()]).optional(),
  /** Fails on its first N runs on each instance, then succeeds (e.g. a shutdown probe that fails twice). */
  failTimes: upTo(1000).optional(),
  /** Never answers (a hung script / lost delivery). */
  noAnswer: z.boolean().optional(),
  /** How long one run takes [2s]. */
  duration: z.union([z.string(), z.number()]).optional(),
});

/** What a maintenance script does when its text contains `match` (the first entry that matches wins). */
const commandSchema = z.strictObject({
  match: z.string().min(1).describe('a substring of the script'),
  duration: z.union([z.string(), z.number()]).optional().describe('how long one run takes [10s]'),
  /** Exit code of each run per instance (the last repeats); 194 asks for a reboot and a second run. */
  exits: z.record(z.string(), z.array(z.number().int().min(0).max(255))).optional(),
  output: z.string().optional().describe('what the script prints [ran <match>]'),
});

const simGroupSchema = z.strictObject({
  instances: INSTANCES.describe('main-fleet instances (LightHouse ones included)'),
  lighthouse: INSTANCES.optional().describe('how many of them are LightHouse'),
  subfleets: z.record(z.string(), INSTANCES).optional(),
  tiers: z.record(z.string(), INSTANCES).optional().describe('tier value -> instances, for tiered workloads'),
  tierTag: z.string().optional(),
  zones: z.array(z.string()).optional(),
  instanceType: z.string().optional(),
  lighthouseType: z.string().optional(),
  targetGroup: z.boolean().optional().describe('put the group behind a target group [true]'),
  running: z.boolean().optional().describe('instances start out running [false]'),
  scripts: z.record(z.string(), scriptSchema).optional().describe('event name -> script behaviour'),
  bypassPresent: z.array(z.string()).optional().describe('instance ids whose bypass file exists'),
  commands: z.array(commandSchema).optional().describe('maintenance scripts: by a substring of their text; others exit 0 after 10s'),
  rebootTime: z.union([z.string(), z.number()]).optional().describe('how long a reboot asked by exit 194 takes [60s]'),
  tags: z.record(z.string(), z.record(z.string(), z.string())).optional().describe('extra tags by instance id (to see how Fleetwarden takes odd values)'),
  groupTag: z.boolean().optional().describe('instances carry <prefix>:group-name=<group> [true]; false for a workload selected by its envFilterTag'),
  instanceTags: z.record(z.string(), z.string()).optional().describe('tags every instance of the group carries, e.g. { Environment: ENV001 }'),
});

const ssmWindowSchema = z.strictObject({
  name: z.string(),
  schedule: z.string(),
  timezone: z.string().optional(),
  offsetDays: range(0, 6).optional(),
  durationHours: range(1, 24),
  cutoffHours: range(0, 23).optional(),
  enabled: z.boolean().optional(),
  tags: z.record(z.string(), z.string()).optional(),
});

export const simulatorSchema = z.strictObject({
  world: z.string().optional().describe('file the simulated world persists in [<state dir>/world.json]'),
  seed: z.number().int().optional(),
  start: z.string().optional().describe('ISO instant the simulated clock starts at (fresh world) [2026-01-05T00:00:00Z]'),
  speed: z.number().positive().max(100_000, { error: 'at most 100000 (a simulated day in under a real second)' }).optional().describe("simulated seconds per real second for 'fleetwarden run' [1]"),
  bootTime: z.strictObject({ min: z.union([z.string(), z.number()]), max: z.union([z.string(), z.number()]) }).optional(),
  stopTime: z.union([z.string(), z.number()]).optional(),
  deregistrationDelay: z.union([z.string(), z.number()]).optional(),
  healthyAfter: z.union([z.string(), z.number()]).optional().describe('target health checks pass this long after boot [30s]'),
  faults: z
    .strictObject({
      errorRate: z.number().min(0).max(1).optional().describe('share of start/stop actions that fail'),
      throttleRate: z.number().min(0).max(1).optional().describe('share of API calls throttled'),
      stuckStopping: z.array(z.string()).optional().describe('instances that never finish stopping'),
    })
    .optional(),
  groups: z.record(z.string(), simGroupSchema),
  ssmWindows: z.array(ssmWindowSchema).optional().describe('SSM-like maintenance windows (tags included), for ssm.discovery'),
});

export type SimulatorSpec = z.infer<typeof simulatorSchema>;
export type ScriptSpec = z.infer<typeof scriptSchema>;

/** One instance of a seeded world, as a snapshot of the real fleet saw it. */
export interface SeedInstance {
  readonly id: string;
  /** The group the snapshot's configuration assigned it to (null: none); its timings apply. */
  readonly group: string | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly zone: string;
  readonly type: string;
  readonly power: 'pending' | 'running' | 'stopping' | 'stopped';
}

/**
 * A simulated world seeded from a snapshot of a real fleet (`fleetwarden snapshot`, app/world.ts) instead of the
 * spec's invented `groups`: the same simulator, started from the instances, target groups, windows and timings seen.
 */
export interface SimulatorSeed {
  readonly instances: readonly SeedInstance[];
  /** Target group id → its members and deregistration delay (null: the simulator's default). */
  readonly targetGroups: Readonly<Record<string, { readonly members: readonly string[]; readonly deregistrationDelayMs: number | null }>>;
  /** What the window source lists (SSM windows with their tags), as discovered. */
  readonly windows: readonly SsmWindowInfo[];
  /** Boot and stop times measured by group (SeedInstance.group); what is absent takes the spec's. */
  readonly timings: Readonly<Record<string, { readonly bootMs?: number | undefined; readonly stopMs?: number | undefined }>>;
}
