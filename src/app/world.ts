/**
 * World files (docs/configuration.md#world-files): a snapshot of a real fleet, read once through the
 * configured provider, that `simulate --world` starts the simulator from. Reading, writing and checking them, and
 * taking a snapshot, live here; the simulator itself only sees the `SimulatorSeed` a world file becomes.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { FleetConfig } from '../config/config.js';
import { formatPath } from '../config/load.js';
import type { SsmWindowInfo } from '../config/ssm-windows.js';
import type { SimulatorSeed } from '../config/simulator-spec.js';
import { ValidationError, ValidationErrors } from '../domain/errors.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { assignGroups, selectingTagKeys } from '../planner/inspect.js';
import type { AgentQueue, HistoryStore } from '../ports/index.js';
import type { FleetReader } from './compose.js';

/** The world file format this version writes and reads. */
export const WORLD_VERSION = 1;
export const WORLD_KIND = 'fleetwarden-world';
/** History entries read per group to measure timings (newest first): enough for weeks of a busy group. */
const HISTORY_PER_GROUP = 5000;

const timingSchema = z.strictObject({ ms: z.number().int().min(0).nullable(), samples: z.number().int().min(0) });
const windowSchema = z.object({
  id: z.string(),
  name: z.string(),
  schedule: z.string(),
  timezone: z.string().optional(),
  offsetDays: z.number().int().optional(),
  durationHours: z.number(),
  cutoffHours: z.number(),
  startDate: z.string().optional(),
  endDate: z.string().optional(),
  createdAt: z.string().optional(),
  createdAtError: z.string().optional(),
  enabled: z.boolean(),
  tags: z.record(z.string(), z.string()),
  nextExecutionTime: z.string().optional(),
});

const worldSchema = z.strictObject({
  version: z.literal(WORLD_VERSION),
  kind: z.literal(WORLD_KIND),
  takenAt: z.string(),
  provider: z.enum(['simulator', 'aws']),
  config: z.strictObject({ file: z.string(), text: z.string() }),
  instances: z.array(
    z.strictObject({
      id: z.string().min(1),
      group: z.string().nullable(),
      tags: z.record(z.string(), z.string()),
      zone: z.string(),
      type: z.string(),
      power: z.enum(['pending', 'running', 'stopping', 'stopped']),
      /** When its agent last reported (the store's acknowledgements); null: no agent report. */
      agentSeenAt: z.string().nullable(),
    }),
  ),
  targetGroups: z.array(z.strictObject({ id: z.string().min(1), deregistrationDelayMs: z.number().int().min(0).nullable(), members: z.array(z.string()) })),
  windows: z.array(windowSchema),
  timings: z.record(z.string(), z.strictObject({ boot: timingSchema, stop: timingSchema, drain: timingSchema })),
  store: z.strictObject({ read: z.boolean(), detail: z.string() }),
});

export type WorldFile = z.infer<typeof worldSchema>;
export type WorldTimings = WorldFile['timings'][string];

/** Reads and checks a world file; every problem names the file and the field. */
export function readWorldFile(path: string): WorldFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(path, `cannot read the world file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(path, `not a world file: not JSON (${err instanceof Error ? err.message : String(err)}); take one with 'fleetwarden snapshot'`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ValidationError(path, "not a world file: expected a JSON object; take one with 'fleetwarden snapshot'");
  const version = (doc as Record<string, unknown>)['version'];
  // The version first: a newer file's other fields would only produce confusing errors.
  if (version !== WORLD_VERSION) throw new ValidationError(`${path}: version`, `unknown world file version ${version === undefined ? '(none)' : JSON.stringify(version)}; this fleetwarden reads version ${WORLD_VERSION} (take a new snapshot with this version)`);
  const r = worldSchema.safeParse(doc);
  if (!r.success) throw new ValidationErrors(r.error.issues.slice(0, 10).map((i) => new ValidationError(`${path}: ${formatPath(i.path) || '(top level)'}`, i.message)));
  const w = r.data;
  parseInstant(w.takenAt, `${path}: takenAt`);
  const ids = new Set<string>();
  w.instances.forEach((i, n) => {
    if (ids.has(i.id)) throw new ValidationError(`${path}: instances[${n}].id`, `instance ${i.id} appears twice`);
    ids.add(i.id);
  });
  return w;
}

/** Writes a world file atomically (a temporary file renamed over it): a reader never sees half of one. */
export function writeWorldFile(path: string, world: WorldFile): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(world, null, 1)}\n`);
    renameSync(tmp, path);
  } catch (err) {
    throw new ValidationError('--out', `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** What the simulator starts from: the world's instances, target groups, windows and measured timings. */
export function seedOf(world: WorldFile): SimulatorSeed {
  return {
    instances: world.instances.map((i) => ({ id: i.id, group: i.group, tags: i.tags, zone: i.zone, type: i.type, power: i.power })),
    targetGroups: Object.fromEntries(world.targetGroups.map((t) => [t.id, { members: t.members, deregistrationDelayMs: t.deregistrationDelayMs }])),
    windows: world.windows as SsmWindowInfo[],
    timings: Object.fromEntries(Object.entries(world.timings).map(([g, t]) => [g, { ...(t.boot.ms === null ? {} : { bootMs: t.boot.ms }), ...(t.stop.ms === null ? {} : { stopMs: t.stop.ms }) }])),
  };
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : Math.round(((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2);
}

interface TransitionSeen {
  readonly at: number;
  readonly instanceId: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Median boot (starting → initializing: start sent until seen running), stop (stopping → stopped) and drain
 * (draining → stopping) times of one group, from its transitions in time order. A sample needs both ends: the entry
 * into the state and the exit from it, for the same instance. Measured to the tick, as the controller saw them.
 */
export function measureTimings(transitions: readonly TransitionSeen[]): WorldTimings {
  const entered = new Map<string, number>();
  const samples = { boot: [] as number[], stop: [] as number[], drain: [] as number[] };
  const sorted = [...transitions].sort((a, b) => a.at - b.at);
  for (const t of sorted) {
    const since = entered.get(`${t.instanceId}|${t.from}`);
    if (since !== undefined) {
      if (t.from === 'starting' && t.to === 'initializing') samples.boot.push(t.at - since);
      if (t.from === 'stopping' && t.to === 'stopped') samples.stop.push(t.at - since);
      if (t.from === 'draining' && t.to === 'stopping') samples.drain.push(t.at - since);
    }
    entered.delete(`${t.instanceId}|${t.from}`);
    entered.set(`${t.instanceId}|${t.to}`, t.at);
  }
  const of = (v: number[]): { ms: number | null; samples: number } => ({ ms: median(v), samples: v.length });
  return { boot: of(samples.boot), stop: of(samples.stop), drain: of(samples.drain) };
}

async function groupTransitions(store: HistoryStore, group: string): Promise<TransitionSeen[]> {
  const out: TransitionSeen[] = [];
  let before: number | undefined;
  for (let read = 0; read < HISTORY_PER_GROUP; ) {
    const page = await store.history({ group, before, limit: 1000 });
    for (const e of page) {
      const from = e.data?.['from'];
      const to = e.data?.['to'];
      if (e.type === 'transition' && e.instanceId !== null && typeof from === 'string' && typeof to === 'string') out.push({ at: e.at, instanceId: e.instanceId, from, to });
    }
    read += page.length;
    if (page.length < 1000) break;
    before = page.at(-1)?.id;
    if (before === undefined) break;
  }
  return out;
}

export interface SnapshotInput {
  readonly config: FleetConfig;
  /** The configuration file's path and text, embedded as the fleet's current configuration. */
  readonly configFile: { readonly path: string; readonly text: string };
  readonly reader: FleetReader;
  /** The store, for agent presence and timings; null when there is none (it is optional). */
  readonly store: (HistoryStore & Pick<AgentQueue, 'agentAcks'>) | null;
  /** Why the store was not read, when it was not. */
  readonly storeNote: string;
}

/**
 * Reads the fleet once, read-only: the instances the configuration's groups select (tags, zone, type, power), every
 * managed target group's members and deregistration delay, the SSM windows with their tags (ssm.discovery), and
 * from the store, if any, agent presence and measured timings.
 */
export async function takeSnapshot(input: SnapshotInput): Promise<WorldFile> {
  const { config, reader } = input;
  const takenAt = reader.clock.now();
  const listed = await reader.provider.listInstances(selectingTagKeys(config.groups, config.naming));
  // Terminated instances are gone: the simulator has no use for them.
  const live = listed.filter((i) => i.power !== 'terminated');
  const groupOf = new Map<string, string>();
  for (const [group, members] of assignGroups(live, config.groups, config.naming).byGroup) for (const i of members) groupOf.set(i.id, group);
  const health = await reader.lb.targetHealth();
  const delays = await reader.lb.deregistrationDelays();
  const members = new Map<string, string[]>();
  for (const [id, byTg] of health) for (const tg of Object.keys(byTg)) members.set(tg, [...(members.get(tg) ?? []), id]);
  for (const tg of delays.keys()) if (!members.has(tg)) members.set(tg, []);
  const windows = reader.windowSource === null ? [] : await reader.windowSource.list();

  const agentSeen = new Map<string, number>();
  const timings: Record<string, WorldTimings> = {};
  let store = { read: false, detail: input.storeNote };
  if (input.store !== null) {
    try {
      for (const g of config.groups) {
        for (const [id, ack] of await input.store.agentAcks(g.name)) agentSeen.set(id, ack.at);
        timings[g.name] = measureTimings(await groupTransitions(input.store, g.name));
      }
      store = { read: true, detail: input.storeNote };
    } catch (err) {
      // The store only adds detail: a fleet without one (or one we cannot read) is still snapshotted, and says so.
      for (const k of Object.keys(timings)) Reflect.deleteProperty(timings, k);
      agentSeen.clear();
      store = { read: false, detail: `${input.storeNote}: not read (${err instanceof Error ? err.message : String(err)})` };
    }
  }
  for (const g of config.groups) timings[g.name] ??= measureTimings([]);

  return {
    version: WORLD_VERSION,
    kind: WORLD_KIND,
    takenAt: formatInstant(takenAt),
    provider: config.provider,
    config: { file: input.configFile.path, text: input.configFile.text },
    instances: live
      .map((i) => ({ id: i.id, group: groupOf.get(i.id) ?? null, tags: { ...i.tags }, zone: i.zone, type: i.instanceType, power: i.power as 'pending' | 'running' | 'stopping' | 'stopped', agentSeenAt: agentSeen.has(i.id) ? formatInstant(agentSeen.get(i.id) ?? 0) : null }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    targetGroups: [...members].map(([id, m]) => ({ id, deregistrationDelayMs: delays.get(id) ?? null, members: [...m].sort() })).sort((a, b) => a.id.localeCompare(b.id)),
    windows: windows.map((w) => ({ ...w, tags: { ...w.tags } })),
    timings,
    store,
  };
}

/** Which timings were measured, in words: `web boot 52s (14), web stop 19s (9)`, or none. */
export function measuredTimings(world: WorldFile): { group: string; kind: 'boot' | 'stop' | 'drain'; ms: number; samples: number }[] {
  const out: { group: string; kind: 'boot' | 'stop' | 'drain'; ms: number; samples: number }[] = [];
  for (const [group, t] of Object.entries(world.timings)) {
    for (const kind of ['boot', 'stop', 'drain'] as const) {
      const v = t[kind];
      if (v.ms !== null) out.push({ group, kind, ms: v.ms, samples: v.samples });
    }
  }
  return out;
}
