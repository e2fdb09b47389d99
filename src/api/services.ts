/**
 * The operations behind the API and the CLI: both call these, so `fleetwarden status` run against the store and
 * `GET /v1/status` answer with the same JSON. Every function takes `now`; request bodies are validated here with
 * the configuration's own parsers (keys, counts, durations), and a bad one changes nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { FleetConfig, GroupConfig } from '../config/config.js';
import { findKey, formatKeyValue, KEY_DEFS, parseSetting, unknownKey } from '../config/keys.js';
import { formatPath } from '../config/load.js';
import { type LayerEntry, resolve, windowStartAhead } from '../config/resolve.js';
import { type SsmWindowInfo, ssmWindowsForGroup } from '../config/ssm-windows.js';
import { parseDuration } from '../domain/durations.js';
import { ConflictError, ValidationError, ValidationErrors } from '../domain/errors.js';
import { CONTROLS, type ControlKind, type ObservedInstance } from '../domain/model.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { AGENT_OUTCOMES, type AgentCommand, type AgentCommandResult, type ApiToken, type AgentQueue, type ExecutionStore, type GroupStateStore, HISTORY_TYPES, type HistoryEntry, type HistoryQuery, type HistoryStore, type HistoryType, type LeaseStore, type ObjectStore, type SettingsStore, type TokenStore } from '../ports/index.js';
import { agentDeadline, replacedIds } from '../providers/agent/runner.js';
import type { CancelRequest, WindowExecution } from '../maintenance/model.js';
import { agentGoal, type Handshake, heldInstances } from '../maintenance/execution.js';
import { ACK_HEALTH, ACK_PORTS, type AgentAck, confirms } from '../domain/agent-ack.js';
import { sequencePlan } from '../planner/tiers.js';
import type * as wire from './wire.js';

/** What a running controller knows beyond the store: the last tick's observation and active windows. */
export interface LiveView {
  observedInstance(id: string): ObservedInstance | undefined;
  windowsOf(group: string): readonly { readonly name: string; readonly start: number; readonly end: number }[] | undefined;
  /** Each group's last failed tick, while it has had no good one since. */
  groupErrors?(): ReadonlyMap<string, { readonly at: number; readonly message: string; readonly retryable: boolean }>;
}

/** AWS ids (`i-0abc…`) and the simulator's readable ones (`i-web-001`). */
const INSTANCE_ID = /^i-[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

export function checkInstanceId(id: string, field: string): string {
  if (!INSTANCE_ID.test(id)) throw new ValidationError(field, `expected an instance id such as i-0123456789abcdef0 (i- then letters, digits or -), got ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}

export function findGroup(config: FleetConfig, name: string, field: string): GroupConfig {
  const g = config.groups.find((x) => x.name === name);
  if (!g) throw new ValidationError(field, `no group "${name}"; groups: ${config.groups.map((x) => x.name).join(', ')}`);
  return g;
}

/** Parses a request body with a zod schema; every problem is reported with its field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new ValidationErrors(r.error.issues.map((i) => new ValidationError(i.path.length === 0 ? 'body' : formatPath(i.path), i.message)));
  return r.data;
}

const ttl = z.union([z.number().positive(), z.string().min(1)]).describe('how long it lasts: 30m, 4h, 2d, or seconds');
const reason = z.string().trim().min(1, { error: 'a reason is required' }).max(500, { error: 'at most 500 characters' });

function ttlMs(raw: string | number, field: string): number {
  const ms = parseDuration(raw, field);
  if (ms <= 0) throw new ValidationError(field, 'must be longer than zero');
  if (ms > 366 * 86_400_000) throw new ValidationError(field, 'at most 366 days');
  return ms;
}

// ---------------------------------------------------------------- status and history

/** A store that keeps groups' last errors itself (DynamoDB, written by the Lambda workers). */
function storedErrors(store: object): store is { groupError(group: string): Promise<{ at: number; message: string; retryable: boolean } | null> } {
  return typeof (store as { groupError?: unknown }).groupError === 'function';
}

export async function statusView(store: GroupStateStore & LeaseStore & SettingsStore & AgentQueue, config: FleetConfig, now: number, group?: string, live?: LiveView | null): Promise<wire.StatusJson> {
  if (group !== undefined) findGroup(config, group, 'group');
  const records = (await store.allRecords()).filter((r) => group === undefined || r.group === group).sort((a, b) => a.group.localeCompare(b.group) || a.instanceId.localeCompare(b.instanceId));
  const chosen = config.groups.filter((g) => group === undefined || g.name === group);
  const leases = await Promise.all(chosen.map(async (g) => ({ group: g.name, holder: await store.leaseHolder(g.name, now) })));
  const errors = live?.groupErrors?.() ?? new Map<string, { at: number; message: string; retryable: boolean }>();
  // What each instance's agent last reported applying (the drain handshake).
  const acks = new Map((await Promise.all(chosen.map((g) => store.agentAcks(g.name)))).flatMap((m) => [...m]));
  const groups = await Promise.all(
    chosen.map(async (g) => {
      // Without a live reconciler here (the API on Lambda, the CLI on the table), the error a worker recorded.
      const err = errors.get(g.name) ?? (live?.groupErrors === undefined && storedErrors(store) ? ((await store.groupError(g.name)) ?? undefined) : undefined);
      return {
        group: g.name,
        ...(g.workload === null ? {} : { workload: (await workloadState(store, g, now)).json }),
        problems: (await store.problems(g.name)).map((p) => ({ source: p.source, subject: p.subject, field: p.field, value: p.value, reason: p.reason, since: formatInstant(p.since) })),
        lastError: err === undefined ? null : { at: formatInstant(err.at), message: err.message, retryable: err.retryable },
      };
    }),
  );
  return {
    at: formatInstant(now),
    instances: records.map((r) => {
      const ack = acks.get(r.instanceId);
      return { group: r.group, instance: r.instanceId, state: r.state, since: formatInstant(r.since), reason: r.reason, ...(r.errorUntil === undefined ? {} : { errorUntil: formatInstant(r.errorUntil) }), agent: ack === undefined ? null : { ports: ack.ports, health: ack.health, at: formatInstant(ack.at) } };
    }),
    leases: leases.map((l) => ({ group: l.group, owner: l.holder?.owner ?? null, expiresAt: l.holder ? formatInstant(l.holder.expiresAt) : null, generation: l.holder?.generation ?? null })),
    groups,
  };
}

export function historyJson(entries: readonly HistoryEntry[]): wire.HistoryJson {
  return {
    entries: entries.map((e) => ({ id: e.id, at: formatInstant(e.at), group: e.group, instance: e.instanceId, type: e.type, summary: e.summary, ...(e.data === undefined ? {} : { data: e.data }) })),
    next: entries.at(-1)?.id ?? null,
  };
}

/**
 * The history filters of the API's query and the CLI's options, checked: `types` (repeated, or comma-separated) each
 * one of HISTORY_TYPES, `from` and `to` ISO instants with from < to. A bad one is a ValidationError naming `fields`'
 * name for it (`type` or `--type`).
 */
export function historyFilters(raw: { readonly types: readonly string[]; readonly from?: string | undefined; readonly to?: string | undefined }, fields: { readonly type: string; readonly from: string; readonly to: string }): Pick<HistoryQuery, 'types' | 'from' | 'to'> {
  const names = raw.types.flatMap((t) => t.split(',')).map((t) => t.trim());
  for (const t of names) if (!(HISTORY_TYPES as readonly string[]).includes(t)) throw new ValidationError(fields.type, `${JSON.stringify(t)} is not a history type; expected one of ${HISTORY_TYPES.join(', ')}`);
  const from = raw.from === undefined ? undefined : parseInstant(raw.from, fields.from);
  const to = raw.to === undefined ? undefined : parseInstant(raw.to, fields.to);
  if (from !== undefined && to !== undefined && to <= from) throw new ValidationError(fields.to, `${raw.to ?? ''} is not after ${fields.from} ${raw.from ?? ''}`);
  return { types: names.length === 0 ? undefined : [...new Set(names as HistoryType[])], from, to };
}

export async function historyView(store: HistoryStore, q: HistoryQuery): Promise<wire.HistoryJson> {
  return historyJson(await store.history(q));
}

// ---------------------------------------------------------------- effective configuration

/** Concrete keys to list: every fixed key, and the per-subfleet / per-event ones that exist. */
function listedKeys(group: GroupConfig, layers: ReadonlyMap<string, readonly LayerEntry[]>): string[] {
  const subfleets = new Set<string>();
  for (const key of [...Object.keys(group.fileValues), ...layers.keys()]) {
    const m = /^fleets\.subfleets\.([^.]+)\./.exec(key);
    if (m?.[1] !== undefined) subfleets.add(m[1]);
  }
  const keys: string[] = [];
  for (const def of KEY_DEFS) {
    if (def.pattern.includes('<name>')) {
      const names = def.pattern.startsWith('events.') ? ['enter-maintenance-window-period', 'exit-maintenance-window-period', 'instance-ready-for-operation', 'instance-ready-for-shutdown', 'instance-state-change'] : [...subfleets];
      for (const n of names) keys.push(def.pattern.replace('<name>', n));
    } else keys.push(def.pattern);
  }
  return keys;
}

/** Each effective setting with every layer's value (default < file < store < schedule < window < override). */
export async function explainView(store: SettingsStore | null, config: FleetConfig, groupName: string, now: number, key?: string, ssm: readonly SsmWindowInfo[] = []): Promise<wire.ExplainJson> {
  const group = findGroup(config, groupName, 'group');
  if (key !== undefined && findKey(key) === undefined) throw unknownKey(key, 'key');
  const subfleets = [...new Set(Object.keys(group.fileValues).flatMap((k) => /^fleets\.subfleets\.([^.]+)\./.exec(k)?.[1] ?? []))];
  // The SSM windows the controller discovers count here as they do there.
  const discovered = ssmWindowsForGroup(ssm, group.name, config.naming, now);
  const own = resolve({ group, now, subfleets, extraWindows: discovered.windows, ...(store === null ? {} : { storeValues: await store.storeValues(group.name), overrides: await store.overrides(now) }) });
  const resolved = { ...own, warnings: [...own.warnings, ...discovered.warnings] };
  const keys = key === undefined ? listedKeys(group, resolved.layers) : [key];
  const expires = (e: LayerEntry | undefined): string | null => (e?.expiresAt === undefined ? null : formatInstant(e.expiresAt));
  return {
    group: group.name,
    at: formatInstant(now),
    settings: keys.map((k) => {
      const entries = resolved.layers.get(k) ?? [{ key: k, value: resolved.settings.raw(k), layer: 'default' as const, source: 'built-in default' }];
      const win = entries.at(-1);
      return {
        key: k,
        value: formatKeyValue(k, win?.value ?? null),
        layer: win?.layer ?? 'default',
        source: win?.source ?? '',
        expiresAt: expires(win),
        layers: entries.map((e) => ({ layer: e.layer, source: e.source, value: formatKeyValue(k, e.value), expiresAt: expires(e) })),
      };
    }),
    activeWindows: resolved.windows.active.map((a) => ({ name: a.decl.name, start: formatInstant(a.window.start), end: formatInstant(a.window.end) })),
    warnings: resolved.warnings,
  };
}

// ---------------------------------------------------------------- overrides and controls

export const overrideBody = z.strictObject({ value: z.union([z.string(), z.number(), z.boolean(), z.null()]), ttl, reason });

export async function setOverride(store: SettingsStore, config: FleetConfig, groupName: string, key: string, body: unknown, now: number): Promise<wire.OverrideSetJson> {
  const group = findGroup(config, groupName, 'group');
  const b = parseBody(overrideBody, body);
  // With the clonesquad preset a CloneSquad name is accepted too, and stored under the key(s) it stands for.
  const parsed = parseSetting(key, b.value, 'value', config.naming.preset);
  const expiresAt = now + ttlMs(b.ttl, 'ttl');
  for (const [k, value] of parsed) await store.setOverride({ group: group.name, key: k, value, expiresAt, reason: b.reason }, now);
  const [first, ...more] = parsed;
  const [k, value] = first ?? [key, null];
  return { group: group.name, key: k, value: formatKeyValue(k, value), expiresAt: formatInstant(expiresAt), reason: b.reason, ...(more.length === 0 ? {} : { alsoSet: more.map(([x]) => x) }) };
}

export async function overridesView(store: SettingsStore, now: number): Promise<wire.OverridesJson> {
  return { overrides: (await store.overrides(now)).map((o) => ({ group: o.group, key: o.key, value: formatKeyValue(o.key, o.value), expiresAt: formatInstant(o.expiresAt), reason: o.reason })) };
}

export async function removeOverride(store: SettingsStore, config: FleetConfig, groupName: string, key: string): Promise<boolean> {
  findGroup(config, groupName, 'group');
  return store.removeOverride(groupName, key);
}

export function checkControlKind(kind: string, field: string): ControlKind {
  if (!(CONTROLS as readonly string[]).includes(kind)) throw new ValidationError(field, `expected one of ${CONTROLS.join(', ')}, got ${JSON.stringify(kind)}`);
  return kind as ControlKind;
}

export const controlBody = z.strictObject({ ttl, reason });

export async function setControl(store: SettingsStore & HistoryStore, instanceId: string, kindRaw: string, body: unknown, now: number): Promise<wire.ControlSetJson> {
  checkInstanceId(instanceId, 'instance');
  const kind = checkControlKind(kindRaw, 'kind');
  const b = parseBody(controlBody, body);
  const until = now + ttlMs(b.ttl, 'ttl');
  await store.setControl({ instanceId, kind, until, reason: b.reason }, now);
  await store.appendHistory([{ at: now, group: '*', instanceId, type: 'control', summary: `control ${kind} set until ${formatInstant(until)}: ${b.reason}` }]);
  return { instance: instanceId, kind, until: formatInstant(until), reason: b.reason };
}

export async function controlsView(store: SettingsStore, now: number): Promise<wire.ControlsJson> {
  return { controls: (await store.controls(now)).map((c) => ({ instance: c.instanceId, kind: c.kind, until: formatInstant(c.until), reason: c.reason })) };
}

// ---------------------------------------------------------------- the instance view and agent commands

function pendingJson(c: AgentCommand): wire.PendingCommandJson {
  return { id: c.id, kind: c.kind, ...(c.event === undefined ? {} : { event: c.event }), args: c.args, ...(c.path === undefined ? {} : { path: c.path }), ...(c.script === undefined ? {} : { script: c.script, mayRerun: c.mayRerun ?? false }), ...(c.replaces === undefined ? {} : { replaces: c.replaces }), timeoutMs: c.timeoutMs, sentAt: formatInstant(c.sentAt), ...(c.cancelRequestedAt === undefined ? {} : { cancel: true }) };
}

/** Commands an agent should run now: unanswered, still within their time, and not replaced by a retry. */
export async function pendingCommands(store: AgentQueue, instanceId: string, now: number): Promise<AgentCommand[]> {
  const all = await store.agentCommands({ instanceId });
  const replaced = replacedIds(all);
  return all.filter((c) => c.result === undefined && agentDeadline(c) >= now && !replaced.has(c.id));
}

/**
 * What an instance's agent polls. `groupHint`: the group the instance was in at the last look — its records are read
 * (one group) instead of every record (a table scan on DynamoDB); if it is no longer there, every record is.
 */
export async function instanceView(store: GroupStateStore & SettingsStore & AgentQueue, config: FleetConfig, instanceId: string, now: number, live: LiveView | null, groupHint?: string): Promise<wire.InstanceJson | null> {
  checkInstanceId(instanceId, 'instance');
  const hinted = groupHint === undefined ? undefined : (await store.loadGroup(groupHint)).records.get(instanceId);
  const record = hinted ?? (await store.allRecords()).find((r) => r.instanceId === instanceId);
  if (record === undefined) return null;
  const observed = live?.observedInstance(instanceId);
  const group = config.groups.find((g) => g.name === record.group);
  let windows = live?.windowsOf(record.group);
  if (windows === undefined && group !== undefined) {
    windows = resolve({ group, now, subfleets: [] }).windows.active.map((a) => ({ name: a.decl.name, start: a.window.start, end: a.window.end }));
  }
  const controls = (await store.controls(now)).filter((c) => c.instanceId === instanceId);
  const executions = (await store.loadGroup(record.group)).executions;
  const outOfService = heldInstances(executions).outOfService.has(instanceId);
  // What the agent is to apply (docs/agent.md#drain-handshake), and what it last reported.
  const goal = agentGoal(instanceId, record.state, record.since, executions, await lifecycleTiming(store, group, record.state, now));
  const ack = (await store.agentAcks(record.group)).get(instanceId);
  const pending = (await pendingCommands(store, instanceId, now)).map(pendingJson);
  const subfleet = observed?.tags[`${config.naming.tagPrefix}:subfleet-name`] ?? null;
  const targetGroups = observed === undefined ? [] : Object.entries(observed.targets).map(([id, health]) => ({ id, health }));
  return {
    instance: instanceId,
    group: record.group,
    // Changes whenever anything the agent acts on changes: a long poll (`?wait=…&since=<version>`) waits for it.
    version: viewVersion({ state: record.state, goal, pending, preset: config.naming.preset, loadBalanced: targetGroups.length > 0 && subfleet === null }),
    // The agent's default script directories follow the deployment's naming (clonesquad: the seed's).
    preset: config.naming.preset,
    state: record.state,
    goal,
    // For agents that predate the goal: block the ports exactly when the goal does.
    drain: goal.ports === 'blocked',
    maintenance: { outOfService },
    agent: ack === undefined ? null : { version: ack.version, ports: ack.ports, health: ack.health, state: ack.state, at: formatInstant(ack.at), confirmsGoal: confirms(ack, goal) },
    since: formatInstant(record.since),
    reason: record.reason,
    subfleet,
    targetGroups,
    window: { period: (windows ?? []).length > 0 ? 'in-window' : 'out-of-window', active: (windows ?? []).map((w) => ({ name: w.name, start: formatInstant(w.start), end: formatInstant(w.end) })) },
    controls: controls.map((c) => ({ kind: c.kind, until: formatInstant(c.until), reason: c.reason })),
    pendingCommands: pending,
  };
}

function viewVersion(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

export const ackBody = z.strictObject({
  version: z.string().min(1).max(200),
  ports: z.enum(ACK_PORTS),
  health: z.enum(ACK_HEALTH),
  state: z.string().max(40).nullable(),
  hooks: z.array(z.strictObject({ name: z.string().max(40), outcome: z.string().max(40) })).max(20).optional(),
});

/**
 * An agent's report of what it has applied (with every poll, and right after each change). The last one is kept;
 * a change of ports or health is written to the history. Answers whether it meets the instance's current goal.
 */
export async function postAck(store: GroupStateStore & AgentQueue & HistoryStore & SettingsStore, config: FleetConfig, instanceId: string, body: unknown, now: number): Promise<{ recorded: boolean; confirmsGoal: boolean; changed: boolean }> {
  checkInstanceId(instanceId, 'instance');
  const b = parseBody(ackBody, body);
  const record = (await store.allRecords()).find((r) => r.instanceId === instanceId);
  if (record === undefined) return { recorded: false, confirmsGoal: false, changed: false };
  const before = (await store.agentAcks(record.group)).get(instanceId);
  const ack: AgentAck = { instanceId, group: record.group, version: b.version, ports: b.ports, health: b.health, state: b.state, ...(b.hooks === undefined ? {} : { hooks: b.hooks }), at: now };
  await store.recordAgentAck(ack);
  const changed = before === undefined || before.ports !== ack.ports || before.health !== ack.health;
  if (changed) await store.appendHistory([{ at: now, group: record.group, instanceId, type: 'agent', summary: `agent reports ports ${ack.ports}, health ${ack.health}${before === undefined ? '' : ` (was ports ${before.ports}, health ${before.health})`}`, data: { version: ack.version } }]);
  const executions = (await store.loadGroup(record.group)).executions;
  const group = config.groups.find((g) => g.name === record.group);
  return { recorded: true, confirmsGoal: confirms(ack, agentGoal(instanceId, record.state, record.since, executions, await lifecycleTiming(store, group, record.state, now))), changed };
}

/** A draining instance's group handshake settings, for the order of its lifecycle drain (others need none). */
async function lifecycleTiming(store: SettingsStore, group: GroupConfig | undefined, state: string, now: number): Promise<{ now: number; handshake: Handshake } | undefined> {
  if (state !== 'draining' || group === undefined) return undefined;
  const settings = resolve({ group, now, subfleets: [], storeValues: await store.storeValues(group.name), overrides: await store.overrides(now) }).settings;
  return { now, handshake: settings.handshake };
}

export async function pendingView(store: AgentQueue, instanceId: string, now: number): Promise<wire.PendingJson> {
  checkInstanceId(instanceId, 'instance');
  return { commands: (await pendingCommands(store, instanceId, now)).map(pendingJson) };
}

export const resultBody = z.strictObject({
  outcome: z.enum(AGENT_OUTCOMES),
  exitCode: z.number().int().min(-1).max(255).nullable(),
  output: z.string().max(100_000, { error: 'at most 100000 characters' }),
  reboots: z.number().int().min(0).max(100).optional(),
});

/** An agent's result: once per command; the outcome must fit the command (an event cannot be "present"). */
export async function postResult(store: AgentQueue, instanceId: string, commandId: string, body: unknown, now: number): Promise<{ recorded: boolean }> {
  checkInstanceId(instanceId, 'instance');
  if (!/^[A-Za-z0-9-]{1,100}$/.test(commandId)) throw new ValidationError('command', 'expected a command id (letters, digits and -)');
  const b = parseBody(resultBody, body);
  const command = (await store.agentCommands({ instanceId, ids: [commandId] }))[0];
  if (command === undefined) throw new ValidationError('command', `no command ${commandId} for ${instanceId}`);
  const allowed: Record<AgentCommand['kind'], readonly string[]> = { event: ['success', 'failed'], bypass: ['present', 'absent', 'unknown'], script: ['success', 'failed', 'timed-out', 'cancelled'] };
  if (!allowed[command.kind].includes(b.outcome)) throw new ValidationError('outcome', `"${b.outcome}" is not an outcome of ${command.kind === 'event' ? 'an event' : command.kind === 'bypass' ? 'a bypass check' : 'a script'} (${allowed[command.kind].join(', ')})`);
  const result = { at: now, outcome: b.outcome, exitCode: b.exitCode, output: b.output, ...(b.reboots === undefined ? {} : { reboots: b.reboots }) };
  const recorded = await store.completeAgentCommand(commandId, instanceId, result);
  if (recorded && command.kind === 'event') await answerReplacements(store, instanceId, commandId, result);
  return { recorded };
}

/**
 * One run answers its delivery: the retries that replaced the command (and theirs, in turn) get the same result,
 * so neither the agent nor the controller waits for a second run.
 */
async function answerReplacements(store: AgentQueue, instanceId: string, commandId: string, result: AgentCommandResult): Promise<void> {
  const answered = new Set([commandId]);
  const open = (await store.agentCommands({ instanceId })).filter((c) => c.result === undefined);
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of open) {
      if (answered.has(c.id) || !(c.replaces ?? []).some((id) => answered.has(id))) continue;
      await store.completeAgentCommand(c.id, instanceId, { ...result, output: `the same run as ${commandId}: ${result.output}`.slice(0, 100_000) });
      answered.add(c.id);
      changed = true;
    }
  }
}

// ---------------------------------------------------------------- tiered workloads: start and stop on demand

export const WORKLOAD_ACTIONS = ['start', 'stop'] as const;
export type WorkloadAction = (typeof WORKLOAD_ACTIONS)[number];

function workloadOf(config: FleetConfig, groupName: string, field: string): GroupConfig & { workload: NonNullable<GroupConfig['workload']> } {
  const g = findGroup(config, groupName, field);
  if (g.workload === null) throw new ValidationError(field, `group "${g.name}" is not a tiered workload (it has no workload section); tiered groups: ${config.groups.filter((x) => x.workload !== null).map((x) => x.name).join(', ') || 'none'}`);
  return g as GroupConfig & { workload: NonNullable<GroupConfig['workload']> };
}

export function checkWorkloadAction(action: string, field: string): WorkloadAction {
  if (!(WORKLOAD_ACTIONS as readonly string[]).includes(action)) throw new ValidationError(field, `expected start or stop, got ${JSON.stringify(action.slice(0, 40))}`);
  return action as WorkloadAction;
}

/** The workload's state and what set it, its progress and its kill switch, for status and the plan. */
async function workloadState(store: GroupStateStore & SettingsStore, group: GroupConfig, now: number) {
  const resolved = resolve({ group, now, subfleets: [], storeValues: await store.storeValues(group.name), overrides: await store.overrides(now) });
  const state = await store.loadGroup(group.name);
  const entry = (key: string): LayerEntry | undefined => resolved.layers.get(key)?.at(-1);
  const describe = (key: string): { value: string; setBy: string; expiresAt: string | null } => {
    const e = entry(key);
    return { value: formatKeyValue(key, resolved.settings.raw(key)), setBy: e?.source ?? 'built-in default', expiresAt: e?.expiresAt === undefined ? null : formatInstant(e.expiresAt) };
  };
  const p = state.workload;
  return {
    resolved,
    state,
    json: {
      state: describe('workload.state'),
      killSwitch: describe('workload.killSwitch'),
      sequence: p === undefined || p.direction === null ? null : { direction: p.direction, since: formatInstant(p.since), aborted: p.abortedAt === undefined ? null : { tier: p.abortedAt.tier, at: formatInstant(p.abortedAt.at), reason: p.abortedAt.reason } },
    },
  };
}

/**
 * The ordered plan of `fleetwarden workload start|stop` (GET …/workload/{action}): tier by tier, which instances it
 * acts on, which are bypassed and why. Reads only: a dry run changes nothing.
 */
export async function workloadPlanView(store: GroupStateStore & SettingsStore, config: FleetConfig, groupName: string, actionRaw: string, now: number): Promise<wire.WorkloadPlanJson> {
  const g = workloadOf(config, groupName, 'group');
  const action = checkWorkloadAction(actionRaw, 'action');
  const { resolved, state, json } = await workloadState(store, g, now);
  const records = [...state.records.values()];
  const plan = sequencePlan({ workload: g.workload, direction: action, records, controls: await store.controls(now), resolved, progress: state.workload, now });
  // SSM windows are not in the file: the last tick's active windows say whether one holds a stop now.
  const fileActive = new Set(resolved.windows.active.map((a) => a.decl.name));
  const others = state.activeWindows.filter((w) => !fileActive.has(w));
  const blocked = plan.blocked ?? (action === 'stop' && others.length > 0 ? `stop blocked: window ${others.join(', ')} was active at the last tick` : null);
  return { group: g.name, action, at: formatInstant(now), workload: json, plan: { ...plan, blocked } };
}

export const workloadBody = z.strictObject({ ttl, reason });

/**
 * Starts or stops a workload on demand: a run-time override of `workload.state` (running or stopped) with a TTL and a
 * reason — the highest layer, so it holds against schedules and windows until it expires (a window still holds any
 * stop until it ends), recorded in the history. The plan, computed before acting, comes back with it. Refused while
 * the kill switch is on (nothing would happen).
 */
export async function workloadAct(store: GroupStateStore & SettingsStore, config: FleetConfig, groupName: string, actionRaw: string, body: unknown, now: number): Promise<wire.WorkloadActJson> {
  const g = workloadOf(config, groupName, 'group');
  const action = checkWorkloadAction(actionRaw, 'action');
  const b = parseBody(workloadBody, body);
  const view = await workloadPlanView(store, config, g.name, action, now);
  if (view.workload.killSwitch.value === 'true') throw new ValidationError('workload.killSwitch', `is on (${view.workload.killSwitch.setBy}): no action is taken on the workload; lift it first ('fleetwarden override remove ${g.name} workload.killSwitch')`);
  const override = await setOverride(store, config, g.name, 'workload.state', { value: action === 'start' ? 'running' : 'stopped', ttl: b.ttl, reason: b.reason }, now);
  return { ...view, override };
}

// ---------------------------------------------------------------- tokens

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits), returned once; only its hash is stored. */
export async function issueToken(store: TokenStore, role: ApiToken['role'], instanceId: string | null, label: string, now: number): Promise<{ token: string; id: string }> {
  if (role === 'agent') checkInstanceId(instanceId ?? '', 'instance');
  const token = `fw${role === 'admin' ? 'a' : role === 'viewer' ? 'v' : 'i'}_${randomBytes(32).toString('base64url')}`;
  const hash = hashToken(token);
  await store.putToken({ hash, role, instanceId, createdAt: now, label });
  return { token, id: hash.slice(0, 12) };
}

export async function tokensView(store: TokenStore): Promise<wire.TokensJson> {
  return { tokens: (await store.tokens()).map((t) => ({ id: t.hash.slice(0, 12), role: t.role, instance: t.instanceId, createdAt: formatInstant(t.createdAt), label: t.label })) };
}

/** Revokes by id (the first 12 hex digits of the hash shown by `tokens`) or by instance. */
export async function revokeTokens(store: TokenStore, match: { id?: string; instanceId?: string }): Promise<number> {
  if (match.id !== undefined) {
    if (!/^[0-9a-f]{12}$/.test(match.id)) throw new ValidationError('id', 'expected the 12-hex-digit id shown by the token list');
    const found = (await store.tokens()).filter((t) => t.hash.startsWith(match.id ?? ''));
    let n = 0;
    for (const t of found) n += await store.revokeTokens({ hash: t.hash });
    return n;
  }
  if (match.instanceId !== undefined) return store.revokeTokens({ instanceId: checkInstanceId(match.instanceId, 'instance') });
  throw new ValidationError('id', 'give a token id or an instance');
}

// ---------------------------------------------------------------- upcoming window periods

/** Window periods of each group between `from` and `to`, with the instant each becomes active (start − startAhead). */
export function windowsView(config: FleetConfig, from: number, to: number, group: string | undefined, ssm: readonly SsmWindowInfo[]): wire.WindowsJson {
  if (group !== undefined) findGroup(config, group, 'group');
  const rows: { group: string; name: string; description: string | null; source: string; activeFrom: number; start: number; end: number }[] = [];
  const warnings: string[] = [];
  for (const g of config.groups) {
    if (group !== undefined && g.name !== group) continue;
    const found = ssmWindowsForGroup(ssm, g.name, config.naming, from);
    warnings.push(...found.warnings);
    const ahead = typeof g.fileValues['maintenance.startAhead'] === 'number' ? g.fileValues['maintenance.startAhead'] : 15 * 60_000;
    for (const w of [...g.windows, ...found.windows]) {
      if (!w.schedule) {
        warnings.push(`${g.name}: window ${w.name} cannot be evaluated: ${w.error ?? 'invalid'}`);
        continue;
      }
      for (const o of w.schedule.between(from - (w.schedule.durationMs ?? 0), to, 10_000)) {
        const end = o.end ?? o.start;
        if (end > from && o.start < to) rows.push({ group: g.name, name: w.name, description: w.description ?? null, source: w.source, activeFrom: o.start - windowStartAhead(w, ahead), start: o.start, end });
      }
    }
  }
  rows.sort((a, b) => a.start - b.start);
  return { from: formatInstant(from), to: formatInstant(to), periods: rows.map((r) => ({ group: r.group, window: r.name, description: r.description, source: r.source, activeFrom: formatInstant(r.activeFrom), start: formatInstant(r.start), end: formatInstant(r.end) })), warnings };
}

// ---------------------------------------------------------------- maintenance executions

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : formatInstant(ms);
}

function cancelJson(c: CancelRequest): wire.CancelAnswerJson['cancel'] {
  return { by: c.by, at: formatInstant(c.at), reason: c.reason };
}

function executionSummary(e: WindowExecution): wire.ExecutionSummaryJson {
  return {
    id: e.id,
    group: e.group,
    window: e.window,
    description: e.description ?? null,
    start: formatInstant(e.start),
    end: formatInstant(e.end),
    status: e.status,
    startedAt: formatInstant(e.startedAt),
    endedAt: iso(e.endedAt),
    cancel: e.cancel === undefined ? null : cancelJson(e.cancel),
    tasks: e.tasks.map((t) => ({
      name: t.name,
      priority: t.priority,
      status: t.status,
      targets: t.targets.length,
      succeeded: t.invocations.filter((i) => i.status === 'SUCCESS').length,
      failed: t.invocations.filter((i) => i.status === 'FAILED' || i.status === 'TIMED_OUT').length,
      notRun: t.terminated.length,
      cancelled: t.invocations.filter((i) => i.status === 'CANCELLED').length,
      skipped: t.skipped ?? [],
      outOfService: t.invocations.filter((i) => i.outOfService).map((i) => i.target),
    })),
  };
}

export async function executionsView(store: ExecutionStore, q: { group?: string | undefined; limit: number; before?: string | undefined }): Promise<wire.ExecutionsJson> {
  const list = await store.executions(q);
  return { executions: list.map(executionSummary), next: list.length === q.limit ? (list.at(-1)?.id ?? null) : null };
}

function checkExecutionId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_.-]{3,128}\/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(id)) throw new ValidationError('id', `expected <group>/<window>/<period start>, e.g. web/FW-web/2026-06-07T02:00:00Z, got ${JSON.stringify(id.slice(0, 200))}`);
  return id;
}

/** One execution with every task and invocation: statuses, times, exit codes, output (2500 characters) and its key. */
/**
 * One invocation's full output, read from the object store by the key its execution recorded; or what is missing,
 * named (the execution, its task, the invocation, the key, the object store, or the object — pruned after the
 * retention).
 */
export async function invocationOutput(store: ExecutionStore, objects: ObjectStore | null, id: string, task: string, instance: string): Promise<{ text: string } | { missing: string }> {
  checkExecutionId(id);
  checkInstanceId(instance, 'instance');
  const e = await store.execution(id);
  if (e === null) return { missing: `no execution ${id}` };
  const t = e.tasks.find((x) => x.name === task);
  if (t === undefined) return { missing: `execution ${id} has no task ${JSON.stringify(task)}` };
  const inv = t.invocations.find((i) => i.target === instance);
  if (inv === undefined) return { missing: `task ${JSON.stringify(task)} of execution ${id} has no invocation on ${instance}` };
  if (inv.outputKey === undefined) return { missing: `the invocation of task ${JSON.stringify(task)} on ${instance} has no full output (yet)` };
  if (objects === null) return { missing: 'this controller has no object store for task output' };
  const text = await objects.get(inv.outputKey);
  if (text === null) return { missing: `the output ${inv.outputKey} is not in the object store (pruned after its retention?)` };
  return { text };
}

export async function executionView(store: ExecutionStore, id: string): Promise<wire.ExecutionJson | null> {
  checkExecutionId(id);
  const e = await store.execution(id);
  if (e === null) return null;
  return {
    ...executionSummary(e),
    lastTaskStart: formatInstant(e.lastTaskStart),
    tasks: e.tasks.map((t) => ({
      name: t.name,
      priority: t.priority,
      status: t.status,
      startedAt: iso(t.startedAt),
      endedAt: iso(t.endedAt),
      detail: t.detail,
      targets: t.targets,
      notRun: t.terminated,
      skipped: t.skipped ?? [],
      invocations: t.invocations.map((i) => ({
        instance: i.target,
        status: i.status,
        phase: i.phase,
        startedAt: formatInstant(i.startedAt),
        endedAt: iso(i.endedAt),
        exitCode: i.exitCode ?? null,
        runs: i.runs,
        outOfService: i.outOfService,
        drained: i.deregisteredFrom !== undefined,
        // The drain handshake: the step it is at and what the instance's agent is asked to apply.
        step: i.step ?? null,
        agentGoal: i.agent === undefined ? null : { ports: i.agent.ports, health: i.agent.health, since: formatInstant(i.agent.since) },
        detail: i.detail,
        output: i.output ?? null,
        outputKey: i.outputKey ?? null,
      })),
    })),
  };
}

export const cancelBody = z.strictObject({ reason });

/**
 * An operator's cancel of a running execution, for its controller to carry out on its next tick: running scripts
 * cancelled, nothing new started, drained targets put back, status CANCELLED. Asking again is harmless (200, the
 * first request stands); an execution that has ended cannot be cancelled (409); an unknown one is null (404).
 */
export async function cancelExecution(store: ExecutionStore & HistoryStore, id: string, body: unknown, by: string, now: number): Promise<{ status: 200 | 202; json: wire.CancelAnswerJson } | null> {
  checkExecutionId(id);
  const b = parseBody(cancelBody, body);
  const e = await store.execution(id);
  if (e === null) return null;
  if (e.status !== 'IN_PROGRESS') throw new ConflictError('id', `execution ${id} already ended ${e.status}${e.endedAt === undefined ? '' : ` at ${formatInstant(e.endedAt)}`}: nothing to cancel`);
  const answer = (status: 200 | 202, c: CancelRequest, message: string): { status: 200 | 202; json: wire.CancelAnswerJson } => ({ status, json: { id, status: e.status, cancel: cancelJson(c), message } });
  if (e.cancel !== undefined) return answer(200, e.cancel, 'already being cancelled');
  const request: CancelRequest = { execution: id, group: e.group, by, reason: b.reason, at: now };
  if (!(await store.requestCancel(request))) {
    const first = (await store.cancelRequests(e.group)).find((c) => c.execution === id) ?? request;
    return answer(200, first, 'already requested; the controller cancels it on its next tick');
  }
  await store.appendHistory([{ at: now, group: e.group, instanceId: null, type: 'maintenance', summary: `cancel of window execution ${id} requested by ${by}: ${b.reason}`, data: { execution: id } }]);
  return answer(202, request, 'requested; the controller cancels it on its next tick (running scripts cancelled, nothing new started, drained instances put back)');
}
