import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseDuration } from '../domain/durations.js';
import { ScheduleError, ValidationError, ValidationErrors } from '../domain/errors.js';
import { parseInstant } from '../domain/time.js';
import { Schedule, type WindowOptions } from '../schedule/schedule.js';
import { type FleetConfig, type GroupConfig, namingFor, type Preset, type ScheduleDecl, type TaskDecl, type TierConfig, type WindowDecl, type WindowScope } from './config.js';
import { parseMaxConcurrency, parseMaxErrors } from '../maintenance/dispatch.js';
import { parseCount } from '../domain/counts.js';
import { canonicalKey, EVENT_KEYS, type KeyValue, parseKeyValue } from './keys.js';
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
    const canonical = canonicalKey(key, preset);
    const parsed = problems.try(childPath(path, key), () => parseKeyValue(canonical, value, ''));
    if (parsed !== undefined) out[canonical] = parsed;
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
    const dur = (field: string, v: string | number | undefined, fallback: number, min: number): number => {
      if (v === undefined) return fallback;
      const ms = problems.try(`${path}.${field}`, () => parseDuration(v, ''));
      if (ms !== undefined && ms < min) problems.add(`${path}.${field}`, `must be at least ${min / 1000}s`);
      return ms ?? fallback;
    };
    const maxConcurrency = problems.try(`${path}.maxConcurrency`, () => parseMaxConcurrency(String(t.maxConcurrency ?? '1'), ''));
    const maxErrors = problems.try(`${path}.maxErrors`, () => parseMaxErrors(String(t.maxErrors ?? '0'), ''));
    const capacityFloor = problems.try(`${path}.capacityFloor`, () => parseCount(t.capacityFloor ?? 0, ''));
    if (t.targets !== undefined && t.targets.ids === undefined && t.targets.tags === undefined && t.targets.fleets === undefined) problems.add(`${path}.targets`, 'give ids, tags or fleets (or leave targets out for every running instance)');
    for (const [i, id] of (t.targets?.ids ?? []).entries()) if (!/^i-[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(id)) problems.add(`${path}.targets.ids[${i}]`, `expected an instance id, got ${JSON.stringify(id)}`);
    if (t.drain !== true) {
      for (const f of ['capacityFloor', 'healthCheck', 'settle'] as const) if (t[f] !== undefined) problems.add(`${path}.${f}`, 'only applies with drain: true');
    }
    const healthCheck = t.healthCheck === undefined ? null : { command: t.healthCheck.command, timeoutMs: dur('healthCheck.timeout', t.healthCheck.timeout, 30_000, 1000), withinMs: dur('healthCheck.within', t.healthCheck.within, 5 * 60_000, 1000) };
    const timeoutMs = dur('timeout', t.timeout, 3_600_000, 30_000);
    const settleMs = dur('settle', t.settle, 0, 0);
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

function buildGroup(problems: Problems, g: GroupFile, gi: number, preset: Preset, ctx: TaskContext): GroupConfig {
  const base = `groups[${gi}]`;
  const fileValues: Record<string, KeyValue> = {};
  for (const [key, value] of Object.entries(tunables(g))) {
    const parsed = problems.try(`${base}.${key}`, () => parseKeyValue(key, value, ''));
    if (parsed !== undefined) fileValues[key] = parsed;
  }

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
        readinessTimeoutMs: t.start.readinessTimeout === undefined ? 15 * 60_000 : (problems.try(`${path}.tiers[${ti}].start.readinessTimeout`, () => parseDuration(t.start.readinessTimeout, '')) ?? 0),
        onTimeout: t.start.onTimeout ?? 'abort',
      },
      stop: { sequence: t.stop.sequence, synchronous: t.stop.synchronous ?? false },
      bypassFile: t.bypassFile ? { path: t.bypassFile.path, os: t.bypassFile.os ?? 'linux' } : null,
      ignoreStop: t.ignoreStop ?? false,
    }));
    workload = { tierTag: g.workload.tierTag, tiers };
  }

  return {
    name: g.name,
    lighthouse: { tagged: g.fleets?.lighthouse?.tagged ?? true, instanceTypes: g.fleets?.lighthouse?.instanceTypes ?? [] },
    fileValues,
    windows,
    schedules,
    workload,
  };
}

/** Validates a parsed document; throws `ValidationErrors` listing every problem, or returns the typed config. */
export function parseConfig(doc: unknown): FleetConfig {
  const result = fileSchema.safeParse(doc);
  if (!result.success) {
    throw new ValidationErrors(result.error.issues.map((i) => new ValidationError(formatPath(i.path), i.message)));
  }
  const file = result.data;
  const problems = new Problems();
  const preset = file.preset ?? 'fleetwarden';
  checkUnique(problems, 'groups', file.groups.map((g) => g.name), 'group');
  const taskContext: TaskContext = { agent: file.controller?.eventDelivery === 'agent', awsOutput: { bucket: file.aws?.outputBucket, prefix: file.aws?.outputPrefix } };
  const groups = file.groups.map((g, gi) => buildGroup(problems, g, gi, preset, taskContext));
  const c = file.controller ?? {};
  const dur = (path: string, v: string | number | undefined, fallback: number): number => (v === undefined ? fallback : (problems.try(path, () => parseDuration(v, '')) ?? fallback));
  const controller = {
    tickIntervalMs: dur('controller.tickInterval', c.tickInterval, 10_000),
    leaseTtlMs: dur('controller.leaseTtl', c.leaseTtl, 30_000),
    historyRetentionMs: dur('controller.historyRetention', c.historyRetention, 30 * 86_400_000),
    outputRetentionMs: dur('controller.outputRetention', c.outputRetention, 90 * 86_400_000),
    owner: c.owner,
    eventDelivery: c.eventDelivery ?? 'run-command',
  };
  if (controller.tickIntervalMs < 1000) problems.add('controller.tickInterval', 'must be at least 1s');
  if (controller.leaseTtlMs < 2 * controller.tickIntervalMs) problems.add('controller.leaseTtl', 'must be at least twice the tick interval, or the lease lapses between ticks');
  const sim = file.simulator;
  if (sim) {
    for (const name of Object.keys(sim.groups)) if (!file.groups.some((g) => g.name === name)) problems.add(childPath('simulator.groups', name), `no group "${name}" in groups`);
    for (const [path, v] of [['simulator.stopTime', sim.stopTime], ['simulator.deregistrationDelay', sim.deregistrationDelay], ['simulator.healthyAfter', sim.healthyAfter], ['simulator.bootTime.min', sim.bootTime?.min], ['simulator.bootTime.max', sim.bootTime?.max]] as const) {
      if (v !== undefined) problems.try(path, () => parseDuration(v, ''));
    }
    if (sim.start !== undefined) problems.try('simulator.start', () => parseInstant(sim.start ?? '', ''));
  }
  const storeKind = file.store?.kind ?? 'sqlite';
  if (storeKind === 'dynamodb' && file.store?.table === undefined) problems.add('store.table', 'is required with kind: dynamodb');
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
    simulator: sim,
  };
}

/** Parses YAML text; syntax errors name the line. */
export function parseConfigText(text: string, source = 'config'): FleetConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ValidationErrors(doc.errors.map((e) => new ValidationError(source, `line ${e.linePos?.[0].line ?? '?'}: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`)));
  }
  return parseConfig(doc.toJS());
}

export function loadConfigFile(path: string): FleetConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(path, `cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseConfigText(text, path);
}
