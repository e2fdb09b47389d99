import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { type Document, isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import { DAY_MS, formatDuration, HOUR_MS, MAX_DURATION_MS, parseDuration, SECOND_MS } from '../domain/durations.js';
import { ScheduleError, ValidationError, ValidationErrors } from '../domain/errors.js';
import { parseInstant } from '../domain/time.js';
import { Schedule, type WindowOptions } from '../schedule/schedule.js';
import { DEFAULT_HEALTH_CHECK_TIMEOUT_MS, type FleetConfig, type GroupConfig, type Naming, namingFor, type Preset, type ScheduleDecl, type TaskDecl, type TierConfig, type WindowDecl, type WindowScope } from './config.js';
import { parseCount, parseMaxConcurrency, parseMaxErrors } from '../domain/counts.js';
import { defaultOf, EVENT_KEYS, type KeyValue, parseKeyValue, parseSetting } from './keys.js';
import { fileSchema, type GroupFile, type ScheduleFile, type TaskFile, type WindowFile } from './schema.js';

/** `["groups", 0, "fleets"]` -> `groups[0].fleets`; keys that are not identifiers are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][\w-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** Collects every problem before failing, so a user sees them all at once and nothing is applied. */
class Problems {
  readonly list: ValidationError[] = [];
  add(path: string, reason: string): void {
    this.list.push(new ValidationError(path, reason));
  }
  /** Runs `fn`; a ValidationError it throws is recorded under `path` (its own field appended). */
  try<T>(path: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ValidationError) {
        this.add(err.field === '' || err.field === path ? path : `${path}${err.field.startsWith('[') ? '' : '.'}${err.field}`, err.reason);
        return undefined;
      }
      throw err;
    }
  }
}

/** A duration of the file that is not a tunable key: its own bounds (docs/configuration.md#bounds). */
function boundedDuration(problems: Problems, path: string, v: string | number | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const ms = problems.try(path, () => parseDuration(v, '', max));
  if (ms !== undefined && ms < min) problems.add(path, `must be at least ${formatDuration(min)}`);
  return ms ?? fallback;
}

const SCHEDULE_OPTION_FIELDS = new Set(['timezone', 'offsetDays', 'durationHours', 'cutoffHours', 'startDate', 'endDate', 'createdAt']);

function compileSchedule(problems: Problems, path: string, decl: WindowFile | ScheduleFile, maxDurationHours: number): Schedule | undefined {
  const instant = (field: 'startDate' | 'endDate' | 'createdAt'): number | undefined => {
    const value = decl[field];
    return value === undefined ? undefined : problems.try(`${path}.${field}`, () => parseInstant(value, ''));
  };
  const options: WindowOptions = {
    timezone: decl.timezone,
    offsetDays: decl.offsetDays,
    durationHours: decl.durationHours,
    cutoffHours: 'cutoffHours' in decl ? decl.cutoffHours : undefined,
    startDate: instant('startDate'),
    endDate: instant('endDate'),
    createdAt: instant('createdAt'),
    enabled: decl.enabled,
    maxDurationHours,
  };
  try {
    return Schedule.parse(decl.schedule, options);
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    // Option errors belong to that field; expression errors to `schedule`, keeping the cron field's name.
    if (SCHEDULE_OPTION_FIELDS.has(err.field)) problems.add(`${path}.${err.field}`, err.reason);
    else problems.add(`${path}.schedule`, err.message);
    return undefined;
  }
}

function parseValues(problems: Problems, path: string, raw: Readonly<Record<string, unknown>>, preset: Preset): Record<string, KeyValue> {
  const out: Record<string, KeyValue> = {};
  for (const [key, value] of Object.entries(raw)) {
    for (const [canonical, parsed] of problems.try(childPath(path, key), () => parseSetting(key, value, '', preset)) ?? []) out[canonical] = parsed;
  }
  return out;
}

/** `a.b` + `c` -> `a.b.c`; keys that are not identifiers (`fleets.main.min`) are quoted: `a.b["fleets.main.min"]`. */
export function childPath(path: string, key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function parseScope(text: string | undefined): WindowScope {
  if (text === undefined || text === 'group') return { kind: 'group' };
  if (text === 'main') return { kind: 'main' };
  if (text === 'subfleets') return { kind: 'subfleets' };
  return { kind: 'subfleet', name: text.slice('subfleet:'.length) };
}

/** The tunable values a group sets in the file, as key -> raw value. */
function tunables(g: GroupFile): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) raw[key] = value;
  };
  put('fleets.main.min', g.fleets?.main?.min);
  put('fleets.main.desired', g.fleets?.main?.desired);
  for (const [name, sf] of Object.entries(g.fleets?.subfleets ?? {})) {
    put(`fleets.subfleets.${name}.state`, sf.state);
    put(`fleets.subfleets.${name}.min`, sf.min);
    put(`fleets.subfleets.${name}.desired`, sf.desired);
  }
  for (const [k, v] of Object.entries(g.caps ?? {})) put(`caps.${k}`, v);
  for (const [k, v] of Object.entries(g.lifecycle ?? {})) put(`lifecycle.${k}`, v);
  put('events.scriptTimeout', g.events?.scriptTimeout);
  for (const e of EVENT_KEYS) {
    const settings = g.events?.[e];
    put(`events.${e}.enabled`, settings?.enabled);
    put(`events.${e}.timeLimit`, settings?.timeLimit);
  }
  for (const [k, v] of Object.entries(g.agent ?? {})) put(`agent.${k}`, v);
  put('maintenance.startAhead', g.maintenance?.startAhead);
  put('maintenance.forceSubfleetsRunning', g.maintenance?.forceSubfleetsRunning);
  put('workload.state', g.workload?.state);
  put('workload.killSwitch', g.workload?.killSwitch);
  return raw;
}

function checkUnique(problems: Problems, path: string, names: readonly string[], what: string): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) problems.add(`${path}[${i}].name`, `${what} "${n}" is declared twice`);
    seen.add(n);
  });
}

/** What task validation needs beyond the task itself. */
interface TaskContext {
  /** `controller.eventDelivery: agent`: the agent runs shell scripts only. */
  readonly agent: boolean;
  readonly awsOutput: { readonly bucket: string | undefined; readonly prefix: string | undefined };
}

/** SSM's document name (or its ARN); parameter names as documents declare them. */
const DOCUMENT = /^(arn:aws[a-z-]*:ssm:[a-z0-9-]*:[0-9]{0,12}:document\/)?[A-Za-z0-9_.-]{3,128}$/;
const PARAMETER = /^[A-Za-z0-9_.-]{1,64}$/;
/** Bounds of a document call: SendCommand carries it, and the store keeps it with every execution. */
const MAX_PARAMETERS = 50;
const MAX_VALUES = 100;
const MAX_PARAMETER_BYTES = 64 * 1024;
/** S3 bucket names (3-63 characters) and SSM's OutputS3KeyPrefix limit. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_OUTPUT_PREFIX = 500;

/**
 * What a task runs: a shell command, or an SSM document with parameters — exactly one. With the agent, only
 * AWS-RunShellScript can run, and its `commands` become the script (as SSM joins them into one script).
 */
function taskRun(problems: Problems, path: string, t: TaskFile, ctx: TaskContext): Pick<TaskDecl, 'command' | 'document' | 'output'> | undefined {
  const before = problems.list.length;
  const fail = (field: string, reason: string): void => {
    problems.add(`${path}.${field}`, reason);
  };
  if (t.command !== undefined && t.document !== undefined) fail('document', 'give command or document, not both');
  if (t.command === undefined && t.document === undefined) fail('command', 'give command (a shell script) or document (an SSM document, e.g. AWS-RunPatchBaseline)');
  if (t.parameters !== undefined && t.document === undefined) fail('parameters', 'only applies with document');
  if (t.document !== undefined && !DOCUMENT.test(t.document)) fail('document', `expected an SSM document name (3-128 letters, digits, _, - or .) or its ARN, got ${JSON.stringify(t.document.slice(0, 200))}`);
  const parameters: Record<string, string[]> = {};
  const entries = Object.entries(t.parameters ?? {});
  if (entries.length > MAX_PARAMETERS) fail('parameters', `at most ${MAX_PARAMETERS} parameters, got ${entries.length}`);
  for (const [name, raw] of entries) {
    const values = typeof raw === 'string' ? [raw] : raw;
    if (!PARAMETER.test(name)) fail(childPath('parameters', name), 'expected a parameter name of 1-64 letters, digits, _, - or .');
    if (values.length > MAX_VALUES) fail(childPath('parameters', name), `at most ${MAX_VALUES} values, got ${values.length}`);
    parameters[name] = values;
  }
  const bytes = Buffer.byteLength(JSON.stringify(parameters));
  if (bytes > MAX_PARAMETER_BYTES) fail('parameters', `at most ${MAX_PARAMETER_BYTES / 1024} KiB in all, got ${bytes} bytes`);
  let command = t.command ?? null;
  let document = t.document === undefined ? null : { name: t.document, parameters };
  if (ctx.agent && document !== null) {
    // The agent runs shell scripts: AWS-RunShellScript's `commands` are one, any other document needs SSM.
    if (document.name !== 'AWS-RunShellScript') fail('document', `${document.name} cannot run with controller.eventDelivery: agent (the agent runs shell scripts only); use command, AWS-RunShellScript with commands, or eventDelivery: run-command`);
    else if (parameters['commands'] === undefined || Object.keys(parameters).length > 1) fail('parameters', 'with controller.eventDelivery: agent, AWS-RunShellScript takes only commands (use timeout for the time limit)');
    else {
      command = parameters['commands'].join('\n');
      document = null;
    }
  }
  let output: TaskDecl['output'] = null;
  if (t.outputBucket !== undefined || t.outputPrefix !== undefined) {
    if (ctx.agent) fail(t.outputBucket !== undefined ? 'outputBucket' : 'outputPrefix', "applies to SSM Run Command only; with controller.eventDelivery: agent the controller keeps the output (aws.outputBucket)");
    if (t.outputBucket !== undefined && !BUCKET.test(t.outputBucket)) fail('outputBucket', `expected an S3 bucket name (3-63 lower-case letters, digits, . or -), got ${JSON.stringify(t.outputBucket.slice(0, 100))}`);
    if (t.outputPrefix !== undefined && t.outputPrefix.length > MAX_OUTPUT_PREFIX) fail('outputPrefix', `at most ${MAX_OUTPUT_PREFIX} characters, got ${t.outputPrefix.length}`);
    const bucket = t.outputBucket ?? ctx.awsOutput.bucket;
    if (bucket === undefined) fail('outputPrefix', 'needs a bucket: give outputBucket here or aws.outputBucket');
    else output = { bucket, prefix: t.outputPrefix ?? ctx.awsOutput.prefix ?? 'fleetwarden/' };
  }
  return problems.list.length === before ? { command, document, output } : undefined;
}

/** Tasks of a window: every value checked with the same parsers as the rest of the file; every problem reported. */
function buildTasks(problems: Problems, base: string, files: readonly TaskFile[], ctx: TaskContext): TaskDecl[] {
  checkUnique(problems, base, files.map((t) => t.name), 'task');
  const out: TaskDecl[] = [];
  files.forEach((t, ti) => {
    const path = `${base}[${ti}]`;
    const dur = (field: string, v: string | number | undefined, fallback: number, min: number, max: number): number => boundedDuration(problems, `${path}.${field}`, v, fallback, min, max);
    const maxConcurrency = problems.try(`${path}.maxConcurrency`, () => parseMaxConcurrency(String(t.maxConcurrency ?? '1'), ''));
    const maxErrors = problems.try(`${path}.maxErrors`, () => parseMaxErrors(String(t.maxErrors ?? '0'), ''));
    const capacityFloor = problems.try(`${path}.capacityFloor`, () => parseCount(t.capacityFloor ?? 0, ''));
    if (t.targets !== undefined && t.targets.ids === undefined && t.targets.tags === undefined && t.targets.fleets === undefined) problems.add(`${path}.targets`, 'give ids, tags or fleets (or leave targets out for every running instance)');
    for (const [i, id] of (t.targets?.ids ?? []).entries()) if (!/^i-[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(id)) problems.add(`${path}.targets.ids[${i}]`, `expected an instance id, got ${JSON.stringify(id)}`);
    if (t.drain !== true) {
      for (const f of ['capacityFloor', 'healthCheck', 'settle'] as const) if (t[f] !== undefined) problems.add(`${path}.${f}`, 'only applies with drain: true');
    }
    const healthCheck = t.healthCheck === undefined ? null : { command: t.healthCheck.command, timeoutMs: dur('healthCheck.timeout', t.healthCheck.timeout, DEFAULT_HEALTH_CHECK_TIMEOUT_MS, SECOND_MS, HOUR_MS), withinMs: dur('healthCheck.within', t.healthCheck.within, 5 * 60_000, SECOND_MS, DAY_MS) };
    // 48 hours: SSM Run Command's longest execution timeout.
    const timeoutMs = dur('timeout', t.timeout, 3_600_000, 30_000, 48 * HOUR_MS);
    const settleMs = dur('settle', t.settle, 0, 0, DAY_MS);
    const run = taskRun(problems, path, t, ctx);
    if (maxConcurrency === undefined || maxErrors === undefined || capacityFloor === undefined || run === undefined) return;
    out.push({
      name: t.name,
      priority: t.priority ?? 1,
      ...run,
      runAfterFailure: t.runAfterFailure ?? false,
      targets: t.targets === undefined ? null : { ...(t.targets.ids ? { ids: t.targets.ids } : {}), ...(t.targets.tags ? { tags: t.targets.tags } : {}), ...(t.targets.fleets ? { fleets: t.targets.fleets } : {}) },
      maxConcurrency,
      maxErrors,
      timeoutMs,
      cutoffBehavior: t.cutoffBehavior ?? 'continue',
      rerunOnResume: t.rerunOnResume ?? false,
      drain: t.drain ?? false,
      capacityFloor,
      healthCheck,
      settleMs,
    });
  });
  return out;
}

/**
 * The handshake's timing rule (docs/agent.md#timing): an agent whose long poll is cut falls back to polling every
 * `agent.pollPeriod`; a confirmation must be allowed at least three of those (two missed polls) before it counts as
 * missing — otherwise one slow poll would fail an instance that did nothing wrong. And a lifecycle drain must last
 * at least `agent.lbDetection`: its ports are blocked only after it.
 */
function checkHandshakeTiming(problems: Problems, base: string, values: Readonly<Record<string, KeyValue>>): void {
  const value = (key: string): KeyValue => values[key] ?? defaultOf(key) ?? null;
  if (value('agent.confirm') !== true) return;
  const timeout = value('agent.confirmTimeout');
  const poll = value('agent.pollPeriod');
  if (typeof timeout === 'number' && typeof poll === 'number' && timeout < 3 * poll) {
    problems.add(`${base}.agent.confirmTimeout`, `${formatDuration(timeout)} is less than 3 × agent.pollPeriod (${formatDuration(poll)}): an agent that misses one poll would fail its instance; raise agent.confirmTimeout to at least ${formatDuration(3 * poll)}, or lower the agents' --api-polling-period and agent.pollPeriod`);
  }
  // A lifecycle drain blocks the ports only `agent.lbDetection` after it began: the stop must not come sooner.
  const detection = value('agent.lbDetection');
  const drain = value('lifecycle.drainMinimum');
  if (typeof detection === 'number' && typeof drain === 'number' && drain < detection) {
    problems.add(`${base}.lifecycle.drainMinimum`, `${formatDuration(drain)} is less than agent.lbDetection (${formatDuration(detection)}): a draining instance would be stopped before the load balancer stopped routing to it; make lifecycle.drainMinimum at least agent.lbDetection plus your longest request`);
  }
}

function buildGroup(problems: Problems, g: GroupFile, gi: number, preset: Preset, ctx: TaskContext): GroupConfig {
  const base = `groups[${gi}]`;
  const fileValues: Record<string, KeyValue> = {};
  for (const [key, value] of Object.entries(tunables(g))) {
    const parsed = problems.try(`${base}.${key}`, () => parseKeyValue(key, value, ''));
    if (parsed !== undefined) fileValues[key] = parsed;
  }

  checkHandshakeTiming(problems, base, fileValues);

  const windowFiles = g.maintenance?.windows ?? [];
  checkUnique(problems, `${base}.maintenance.windows`, windowFiles.map((w) => w.name), 'window');
  const windows: WindowDecl[] = windowFiles.map((w, wi) => {
    const path = `${base}.maintenance.windows[${wi}]`;
    return {
      name: w.name,
      source: 'file',
      ...(w.description === undefined ? {} : { description: w.description }),
      onTaskFailure: w.onTaskFailure ?? 'abort',
      scope: parseScope(w.fleet),
      schedule: compileSchedule(problems, path, w, 24) ?? null,
      overrides: parseValues(problems, `${path}.overrides`, w.overrides ?? {}, preset),
      disableDefaultConfiguration: w.disableDefaultConfiguration ?? false,
      tasks: buildTasks(problems, `${path}.tasks`, w.tasks ?? [], ctx),
    };
  });

  const scheduleFiles = g.schedules ?? [];
  checkUnique(problems, `${base}.schedules`, scheduleFiles.map((s) => s.name), 'schedule');
  const schedules: ScheduleDecl[] = [];
  scheduleFiles.forEach((s, si) => {
    const path = `${base}.schedules[${si}]`;
    const schedule = compileSchedule(problems, path, s, 168);
    const values = parseValues(problems, `${path}.set`, s.set, preset);
    if (Object.keys(s.set).length === 0) problems.add(`${path}.set`, 'sets nothing; give at least one setting');
    if (schedule) schedules.push({ name: s.name, schedule, values });
  });

  let workload: GroupConfig['workload'] = null;
  if (g.workload) {
    const path = `${base}.workload`;
    if (g.fleets?.main?.min !== undefined || g.fleets?.main?.desired !== undefined || Object.keys(g.fleets?.subfleets ?? {}).length > 0) {
      problems.add(path, 'a group is either sized by fleets (min/desired, subfleets) or a tiered workload, not both');
    }
    checkUnique(problems, `${path}.tiers`, g.workload.tiers.map((t) => t.name), 'tier');
    const tiers: TierConfig[] = g.workload.tiers.map((t, ti) => ({
      name: t.name,
      start: {
        sequence: t.start.sequence,
        synchronous: t.start.synchronous ?? false,
        readinessTimeoutMs: boundedDuration(problems, `${path}.tiers[${ti}].start.readinessTimeout`, t.start.readinessTimeout, 15 * 60_000, 0, DAY_MS),
        onTimeout: t.start.onTimeout ?? 'abort',
      },
      stop: { sequence: t.stop.sequence, synchronous: t.stop.synchronous ?? false },
      bypassFile: t.bypassFile ? { path: t.bypassFile.path, os: t.bypassFile.os ?? 'linux' } : null,
      ignoreStop: t.ignoreStop ?? false,
    }));
    const w = g.workload;
    if (w.ssmOutputPrefix !== undefined && w.ssmOutputBucket === undefined) problems.add(`${path}.ssmOutputPrefix`, 'only applies with ssmOutputBucket');
    workload = {
      tierTag: w.tierTag,
      tiers,
      envFilter: w.envFilterTag === undefined ? null : { key: w.envFilterTag.key, value: w.envFilterTag.value },
      region: w.region ?? null,
      ssmOutput: w.ssmOutputBucket === undefined ? null : { bucket: w.ssmOutputBucket, prefix: w.ssmOutputPrefix ?? 'fleetwarden/' },
    };
  }

  const a = g.aws ?? {};
  if (a.region !== undefined && g.workload?.region !== undefined && a.region !== g.workload.region) problems.add(`${base}.aws.region`, `contradicts workload.region (${g.workload.region}); give one of them`);
  if (a.externalId !== undefined && a.roleArn === undefined) problems.add(`${base}.aws.externalId`, 'only applies with roleArn (it is sent when assuming that role)');
  const aws = { region: a.region ?? g.workload?.region ?? null, roleArn: a.roleArn ?? null, externalId: a.externalId ?? null };

  return {
    name: g.name,
    aws,
    lighthouse: { tagged: g.fleets?.lighthouse?.tagged ?? true, instanceTypes: g.fleets?.lighthouse?.instanceTypes ?? [] },
    fileValues,
    windows,
    schedules,
    workload,
  };
}

/**
 * Workloads selected by a tag of their own (seed 003): two with the same tag and value would claim the same instances,
 * and the group tag itself is not a filter (it already selects by group name).
 */
function checkEnvFilters(problems: Problems, groups: readonly GroupConfig[], naming: Naming): void {
  const seen = new Map<string, number>();
  groups.forEach((g, gi) => {
    const f = g.workload?.envFilter;
    if (f === undefined || f === null) return;
    const path = `groups[${gi}].workload.envFilterTag`;
    if (f.key.startsWith(`${naming.tagPrefix}:`)) problems.add(`${path}.key`, `${naming.tagPrefix}: tags are Fleetwarden's own; give the tag your instances already carry (e.g. Environment)`);
    const id = `${f.key}\u0000${f.value}`;
    const other = seen.get(id);
    if (other !== undefined) problems.add(path, `${f.key}=${f.value} already selects the instances of group "${groups[other]?.name ?? ''}"; an instance belongs to one group`);
    else seen.set(id, gi);
  });
}

/** Validates a parsed document; throws `ValidationErrors` listing every problem, or returns the typed config. */
export function parseConfig(doc: unknown): FleetConfig {
  const result = fileSchema.safeParse(doc);
  if (!result.success) {
    // A number can fail several checks of one field (whole, minimum, maximum) with the same message: said once.
    const seen = new Set<string>();
    // `at`: where in the document the problem is (an unknown key: the key itself), for parseConfigText's line:column.
    const issues = result.error.issues
      .map((i) => new ValidationError(formatPath(i.path), i.message, { context: i.code === 'unrecognized_keys' && i.keys[0] !== undefined ? { at: [...i.path, i.keys[0]], key: true } : { at: i.path } }))
      .filter((e) => !seen.has(e.message) && seen.add(e.message));
    throw new ValidationErrors(issues);
  }
  const file = result.data;
  const problems = new Problems();
  const preset = file.preset ?? 'fleetwarden';
  checkUnique(problems, 'groups', file.groups.map((g) => g.name), 'group');
  const taskContext: TaskContext = { agent: file.controller?.eventDelivery === 'agent', awsOutput: { bucket: file.aws?.outputBucket, prefix: file.aws?.outputPrefix } };
  const groups = file.groups.map((g, gi) => buildGroup(problems, g, gi, preset, taskContext));
  checkEnvFilters(problems, groups, namingFor(preset));
  const c = file.controller ?? {};
  const controller = {
    tickIntervalMs: boundedDuration(problems, 'controller.tickInterval', c.tickInterval, 10_000, SECOND_MS, HOUR_MS),
    leaseTtlMs: boundedDuration(problems, 'controller.leaseTtl', c.leaseTtl, 30_000, 0, DAY_MS),
    historyRetentionMs: boundedDuration(problems, 'controller.historyRetention', c.historyRetention, 30 * DAY_MS, 0, MAX_DURATION_MS),
    outputRetentionMs: boundedDuration(problems, 'controller.outputRetention', c.outputRetention, 90 * DAY_MS, 0, MAX_DURATION_MS),
    owner: c.owner,
    eventDelivery: c.eventDelivery ?? 'run-command',
    agentIam: c.agentIam === undefined ? null : { serverId: c.agentIam.serverId, accounts: c.agentIam.accounts, roles: c.agentIam.roles ?? [], stsEndpoint: c.agentIam.stsEndpoint, tokenTtlMs: boundedDuration(problems, 'controller.agentIam.tokenTtl', c.agentIam.tokenTtl, HOUR_MS, 60_000, DAY_MS) },
    operatorIam: c.operatorIam === undefined ? null : { serverId: c.operatorIam.serverId, accounts: c.operatorIam.accounts, admins: c.operatorIam.admins ?? [], viewers: c.operatorIam.viewers ?? [], stsEndpoint: c.operatorIam.stsEndpoint, tokenTtlMs: boundedDuration(problems, 'controller.operatorIam.tokenTtl', c.operatorIam.tokenTtl, HOUR_MS, 60_000, 12 * HOUR_MS) },
  };
  if (controller.operatorIam !== null) {
    const o = controller.operatorIam;
    if (o.admins.length + o.viewers.length === 0) problems.add('controller.operatorIam', 'name at least one role in admins or viewers: otherwise no one can log in');
    for (const r of o.admins) if (o.viewers.includes(r)) problems.add('controller.operatorIam.viewers', `role ${r} is also in admins: give each role one of the two`);
  }
  if (controller.leaseTtlMs < 2 * controller.tickIntervalMs) problems.add('controller.leaseTtl', 'must be at least twice the tick interval, or the lease lapses between ticks');
  const sim = file.simulator;
  if (sim) {
    for (const name of Object.keys(sim.groups)) if (!file.groups.some((g) => g.name === name)) problems.add(childPath('simulator.groups', name), `no group "${name}" in groups`);
    // The simulator reads its durations as it goes: checked here so a bad one is a configuration error, not a tick's.
    const simDurations: [string, string | number | undefined][] = [['simulator.stopTime', sim.stopTime], ['simulator.deregistrationDelay', sim.deregistrationDelay], ['simulator.healthyAfter', sim.healthyAfter], ['simulator.bootTime.min', sim.bootTime?.min], ['simulator.bootTime.max', sim.bootTime?.max]];
    for (const [name, g] of Object.entries(sim.groups)) {
      const at = childPath('simulator.groups', name);
      simDurations.push([`${at}.rebootTime`, g.rebootTime]);
      for (const [event, sc] of Object.entries(g.scripts ?? {})) simDurations.push([`${childPath(`${at}.scripts`, event)}.duration`, sc.duration], [`${childPath(`${at}.scripts`, event)}.succeedAfterUptime`, sc.succeedAfterUptime]);
      (g.commands ?? []).forEach((cmd, ci) => simDurations.push([`${at}.commands[${ci}].duration`, cmd.duration]));
    }
    for (const [path, v] of simDurations) boundedDuration(problems, path, v, 0, 0, DAY_MS);
    if (sim.start !== undefined) problems.try('simulator.start', () => parseInstant(sim.start ?? '', ''));
  }
  const storeKind = file.store?.kind ?? 'sqlite';
  if (storeKind === 'dynamodb' && file.store?.table === undefined) problems.add('store.table', 'is required with kind: dynamodb');
  const ev = file.events;
  const events = {
    eventBridge: ev?.eventBridge === undefined || ev.eventBridge.enabled === false ? null : { busName: ev.eventBridge.busName },
    webhook: ev?.webhook === undefined ? null : { url: ev.webhook.url, secretEnv: ev.webhook.secretEnv, timeoutMs: boundedDuration(problems, 'events.webhook.timeout', ev.webhook.timeout, 5_000, 100, 60_000) },
  };
  if (problems.list.length > 0) throw new ValidationErrors(problems.list);
  return {
    naming: namingFor(preset),
    ssmDiscovery: file.ssm?.discovery ?? false,
    groups,
    provider: file.provider ?? 'simulator',
    storePath: file.store?.path,
    store: { kind: storeKind, table: file.store?.table },
    aws: { region: file.aws?.region, hibernate: file.aws?.hibernate ?? false, outputBucket: file.aws?.outputBucket, outputPrefix: file.aws?.outputPrefix },
    controller,
    events,
    simulator: sim,
  };
}

/**
 * A configuration file larger than this is refused before it is parsed. A real one is a few kilobytes; 1 MiB holds
 * about 15,000 small groups and validates in about 2.5 s on 2 cores (parsing YAML with positions is ~2.4 s per MiB:
 * bench `config`), so a refusal is quick and says why instead of a parse that takes half a minute and a gigabyte.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_YAML_ERRORS = 20;

/** Where YAML's own message stops being useful: the position it appends, and the excerpt after it. */
function yamlReason(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
}

/** A 1-based line and column in the configuration text. */
interface Position {
  readonly line: number;
  readonly col: number;
}

/**
 * A problem of a configuration file: `file:line:column: field: reason` — the form compilers use, so an editor or a
 * terminal jumps to it — or `file: field: reason` where no position is known. `field` stays the path into the file
 * (`groups[0].fleets.main.min`), the name users and scripts match on; a YAML syntax problem's field is the file.
 */
export class ConfigProblem extends ValidationError {
  override readonly name: string = 'ConfigProblem';
  readonly source: string;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(source: string, pos: Position | undefined, field: string, reason: string) {
    super(field, reason);
    this.source = source;
    this.line = pos?.line;
    this.column = pos?.col;
    const where = pos === undefined ? source : `${source}:${pos.line}:${pos.col}`;
    this.message = [where, field === source ? '' : field, reason].filter((part) => part !== '').join(': ');
  }
}

function yamlProblem(source: string, pos: Position | undefined, reason: string): ConfigProblem {
  return new ConfigProblem(source, pos, source, reason);
}

/**
 * `groups[0].fleets["a b"].min` -> `groups`, 0, `fleets`, `a b`, `min`: formatPath and childPath in reverse (every key
 * that is not an identifier is quoted; the schema keeps names such as subfleets to identifiers). Stops at the first
 * thing it cannot read: what was read is still an ancestor.
 */
function pathSegments(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const segment = /\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  while (segment.lastIndex < field.length) {
    const at = segment.lastIndex;
    const m = segment.exec(field);
    if (m === null || (m[1] !== undefined && at > 0 && field[at] !== '.')) break;
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3] ?? '""') as string)));
  }
  return out;
}

/**
 * Where `path` is in the document: its value (its key with `key`, or when it has no value); where the path does not
 * exist (a required key left out, a default checked against another setting), the nearest ancestor that does.
 */
function locate(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[], key = false): Position | undefined {
  const start = (n: unknown): number | undefined => (isNode(n) && n.range ? n.range[0] : undefined);
  let node: unknown = doc.contents;
  let offset = start(node);
  for (const [i, seg] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let keyOffset: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (pair === undefined) break;
      [next, keyOffset] = [pair.value, start(pair.key)];
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) next = node.items[seg];
    else break;
    // `min:` with nothing after it is an empty scalar just past the colon: the key is the place to show.
    const empty = isScalar(next) && next.value === null && next.range?.[0] === next.range?.[1];
    offset = ((key && i === path.length - 1) || empty ? undefined : start(next)) ?? keyOffset ?? offset;
    node = next;
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset);
}

/** The problems of a parsed file, each with the file and the line and column of the node it names. */
function locateProblems(err: ValidationErrors, doc: Document, lineCounter: LineCounter, source: string): ValidationErrors {
  return new ValidationErrors(
    err.issues.map((i) => {
      // Schema issues carry their path as zod gave it; the checks of this file, as the path they print.
      const at = i.context['at'];
      const path = Array.isArray(at) ? (at as PropertyKey[]) : pathSegments(i.field);
      return new ConfigProblem(source, locate(doc, lineCounter, path, i.context['key'] === true), i.field, i.reason);
    }),
  );
}

/** The first alias whose anchor is not set before it (yaml reports that one without a position). */
function unresolvedAlias(doc: Document, lineCounter: LineCounter): Position | undefined {
  const anchors = new Set<string>();
  let found: Position | undefined;
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        if (!anchors.has(node.source) && node.range) {
          found = lineCounter.linePos(node.range[0]);
          return visit.BREAK;
        }
      } else if (node.anchor !== undefined) anchors.add(node.anchor);
      return undefined;
    },
  });
  return found;
}

/**
 * Parses YAML text (JSON is YAML too). Every YAML problem — syntax, duplicate keys, aliases without an anchor, an
 * alias bomb — is a `ValidationErrors` naming `source` (and line and column where known), never an exception of the
 * yaml package; so is every problem of the configuration itself, at the line and column of the node it names.
 */
export function parseConfigText(text: string, source = 'config'): FleetConfig {
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  } catch (err) {
    throw new ValidationErrors([yamlProblem(source, undefined, `cannot parse the YAML: ${err instanceof Error ? yamlReason(err.message) : String(err)}`)]);
  }
  if (doc.errors.length > 0) {
    // One broken bracket can cascade into an error per character: the first ones say it all.
    const shown = doc.errors.slice(0, MAX_YAML_ERRORS).map((e) => yamlProblem(source, e.linePos?.[0], yamlReason(e.message)));
    if (doc.errors.length > MAX_YAML_ERRORS) shown.push(yamlProblem(source, undefined, `${doc.errors.length - MAX_YAML_ERRORS} more YAML errors not shown`));
    throw new ValidationErrors(shown);
  }
  let js: unknown;
  try {
    // 100 alias expansions at most (the yaml default, said here on purpose): a "billion laughs" file is refused.
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const message = err instanceof Error ? yamlReason(err.message) : String(err);
    const pos = /^Unresolved alias/.test(message) ? unresolvedAlias(doc, lineCounter) : undefined;
    throw new ValidationErrors([yamlProblem(source, pos, /^Excessive alias count/.test(message) ? 'too many alias (*name) expansions: the file expands to more than 100 copies of anchored nodes' : message)]);
  }
  try {
    return parseConfig(js);
  } catch (err) {
    throw err instanceof ValidationErrors ? locateProblems(err, doc, lineCounter, source) : err;
  }
}

/** Reads at most `limit` + 1 bytes: a FIFO or a device (/dev/zero) is refused as surely as a huge file. */
function readBounded(path: string, limit: number): Buffer | null {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > limit) return null;
    const buf = Buffer.alloc(Math.min(limit + 1, Math.max(64 * 1024, st.size + 1)));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, limit + 1 - total), null);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (total > limit) return null;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

export function loadConfigFile(path: string): FleetConfig {
  let bytes: Buffer | null;
  try {
    bytes = readBounded(path, MAX_CONFIG_BYTES);
  } catch (err) {
    throw new ValidationError(path, `cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (bytes === null) throw new ValidationError(path, `the configuration file is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB; nothing was read`);
  return parseConfigText(bytes.toString('utf8'), path);
}
