import { type Count, formatCount, parseCount } from '../domain/counts.js';
import { DAY_MS, formatDuration, parseDuration, quoted } from '../domain/durations.js';
import { ValidationError } from '../domain/errors.js';

/**
 * The tunable settings of a group: values that layers (file, store, schedules, windows, run-time overrides) may set.
 * A key is the value's path in a group of the YAML file, e.g. `fleets.main.min` or `lifecycle.warmUp`.
 */
export type KeyValue = Count | number | boolean | string | null;

export type KeyType =
  | { readonly kind: 'count' }
  | { readonly kind: 'optional-count' }
  | { readonly kind: 'duration'; readonly max: number }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

export interface KeyDef {
  /** `<name>` matches one path segment (a subfleet or event name). */
  readonly pattern: string;
  readonly type: KeyType;
  readonly default: KeyValue;
  readonly doc: string;
}

export const SUBFLEET_STATES = ['running', 'stopped', 'undefined'] as const;
export type SubfleetState = (typeof SUBFLEET_STATES)[number];
export const WORKLOAD_STATES = ['running', 'stopped', 'undefined'] as const;
export type WorkloadState = (typeof WORKLOAD_STATES)[number];

const MIN = 60_000;
const HOUR = 3_600_000;
const COUNT = { kind: 'count' } as const;
/**
 * Longest values (docs/configuration.md#bounds). Past them a value is a typo, and instants computed from it
 * (`start − startAhead`) stop being dates; the same bound applies in the file, in window tags and in overrides.
 */
const DURATION_7D = { kind: 'duration', max: 7 * DAY_MS } as const;
const DURATION_1D = { kind: 'duration', max: DAY_MS } as const;
const BOOL = { kind: 'boolean' } as const;

/** Event toggles and time limits. Every event is off until enabled (seed 000). */
export const EVENT_KEYS = ['enter-maintenance-window-period', 'exit-maintenance-window-period', 'instance-ready-for-operation', 'instance-ready-for-shutdown', 'instance-state-change'] as const;
export type EventKey = (typeof EVENT_KEYS)[number];

export const KEY_DEFS: readonly KeyDef[] = [
  { pattern: 'fleets.main.min', type: COUNT, default: { kind: 'absolute', value: 0 }, doc: 'instances of the main fleet kept running at least (N, N% or Np)' },
  { pattern: 'fleets.main.desired', type: { kind: 'optional-count' }, default: null, doc: 'instances of the main fleet wanted running; unset = Fleetwarden does not size the fleet' },
  { pattern: 'fleets.subfleets.<name>.state', type: { kind: 'enum', values: SUBFLEET_STATES }, default: 'undefined', doc: "subfleet state: running, stopped, or undefined (hands off)" },
  { pattern: 'fleets.subfleets.<name>.min', type: COUNT, default: { kind: 'absolute', value: 0 }, doc: 'subfleet minimum while running' },
  { pattern: 'fleets.subfleets.<name>.desired', type: COUNT, default: { kind: 'percent', value: 100 }, doc: 'subfleet target while running' },
  { pattern: 'caps.startsPerTick', type: { kind: 'integer', min: 1, max: 10_000 }, default: 10, doc: 'most instances started in one tick' },
  { pattern: 'caps.drainsPerTick', type: { kind: 'integer', min: 1, max: 10_000 }, default: 5, doc: 'most instances put into draining in one tick' },
  { pattern: 'caps.perCall', type: { kind: 'integer', min: 1, max: 1000 }, default: 25, doc: 'most instances in one provider call' },
  { pattern: 'lifecycle.warmUp', type: DURATION_7D, default: 3 * MIN, doc: 'time after a start before an instance may leave initializing' },
  { pattern: 'lifecycle.initializingTimeout', type: DURATION_7D, default: HOUR, doc: 'not ready within this after a start: unuseable' },
  { pattern: 'lifecycle.unuseableGrace', type: DURATION_7D, default: 10 * MIN, doc: 'time an unuseable instance is left before it is drained and replaced' },
  { pattern: 'lifecycle.issueGrace', type: DURATION_7D, default: 10 * MIN, doc: 'an issue (unhealthy target, impaired) lasting this long drains the instance' },
  { pattern: 'lifecycle.drainMinimum', type: DURATION_7D, default: 2 * MIN, doc: 'least time in draining before a stop' },
  { pattern: 'lifecycle.shutdownTimeout', type: DURATION_7D, default: HOUR, doc: 'draining this long without shutdown-probe success: forced stop' },
  { pattern: 'lifecycle.errorBackoff', type: DURATION_7D, default: 5 * MIN, doc: 'after a failed start or stop, the instance is not retried for this long' },
  { pattern: 'events.<name>.enabled', type: BOOL, default: false, doc: 'send this in-instance event' },
  { pattern: 'events.<name>.timeLimit', type: DURATION_7D, default: HOUR, doc: 'a failing event is sent again until success or this time limit' },
  { pattern: 'events.scriptTimeout', type: DURATION_1D, default: 30_000, doc: 'each in-instance script is killed after this' },
  { pattern: 'maintenance.startAhead', type: DURATION_1D, default: 15 * MIN, doc: 'a window is active this long before its start' },
  { pattern: 'maintenance.forceSubfleetsRunning', type: BOOL, default: true, doc: 'subfleets covered by an active window are forced to running' },
  { pattern: 'workload.state', type: { kind: 'enum', values: WORKLOAD_STATES }, default: 'undefined', doc: 'tiered workload: running, stopped, or undefined (hands off)' },
  { pattern: 'workload.killSwitch', type: BOOL, default: false, doc: 'true = no action at all on the workload' },
  { pattern: 'agent.confirm', type: BOOL, default: false, doc: "maintenance waits for each instance's agent to confirm every drain step (health answer, ports) before moving on" },
  { pattern: 'agent.confirmTimeout', type: DURATION_1D, default: MIN, doc: 'a drain step its agent has not confirmed within this fails the instance (left out of service)' },
  { pattern: 'agent.pollPeriod', type: DURATION_1D, default: 10_000, doc: "the agents' --api-polling-period (their fallback when a long poll is cut): agent.confirmTimeout must be at least 3 times it" },
  { pattern: 'agent.lbDetection', type: DURATION_1D, default: 10_000, doc: 'without a target group: how long the load balancer takes to see a changed health answer (e.g. HAProxy inter × fall)' },
];

/**
 * CloneSquad's setting names (seed 000: `clonesquad:config:<key>` window tags, and its configuration), accepted with the
 * clonesquad preset where Fleetwarden has the same setting under another name. One CloneSquad key may stand for several
 * of ours (`…maintenance_window_period` turns on both the enter and the exit event). `format` says how CloneSquad writes
 * the value: a Bool is an integer (0 false, anything else true), a Duration is seconds or `days=1,minutes=15,seconds=20`.
 */
const CLONESQUAD_ALIASES: readonly { readonly re: RegExp; readonly keys: readonly string[]; readonly format?: 'bool' | 'duration' }[] = [
  { re: /^ec2\.(schedule\.)?min_instance_count$/, keys: ['fleets.main.min'] },
  { re: /^ec2\.(schedule\.)?desired_instance_count$/, keys: ['fleets.main.desired'] },
  { re: /^subfleet\.([^.]+)\.state$/, keys: ['fleets.subfleets.$1.state'] },
  { re: /^subfleet\.([^.]+)\.ec2\.schedule\.min_instance_count$/, keys: ['fleets.subfleets.$1.min'] },
  { re: /^subfleet\.([^.]+)\.ec2\.schedule\.desired_instance_count$/, keys: ['fleets.subfleets.$1.desired'] },
  { re: /^ssm\.feature\.maintenance_window\.start_ahead$/, keys: ['maintenance.startAhead'], format: 'duration' },
  { re: /^ssm\.feature\.events\.ec2\.maintenance_window_period$/, keys: ['events.enter-maintenance-window-period.enabled', 'events.exit-maintenance-window-period.enabled'], format: 'bool' },
  { re: /^ssm\.feature\.events\.ec2\.instance_ready_for_shutdown$/, keys: ['events.instance-ready-for-shutdown.enabled'], format: 'bool' },
  { re: /^ssm\.feature\.events\.ec2\.instance_ready_for_shutdown\.max_shutdown_delay$/, keys: ['lifecycle.shutdownTimeout'], format: 'duration' },
  { re: /^ssm\.feature\.events\.ec2\.instance_ready_for_operation$/, keys: ['events.instance-ready-for-operation.enabled'], format: 'bool' },
  { re: /^ssm\.feature\.events\.ec2\.instance_ready_for_operation\.max_initializing_time$/, keys: ['lifecycle.initializingTimeout'], format: 'duration' },
];

/**
 * CloneSquad settings seed 000 names that have no Fleetwarden equivalent, with why: a window tag or a file value using
 * one is reported by name (a problem of that window, or an error of the file), never silently ignored.
 */
export const CLONESQUAD_UNSUPPORTED: Readonly<Record<string, string>> = {
  'ssm.enabled': 'SSM is always used when configured; window discovery is ssm.discovery in the file',
  'ssm.enable': 'SSM is always used when configured; window discovery is ssm.discovery in the file',
  'ssm.feature.maintenance_window': 'maintenance windows are always honoured; discovery from SSM is ssm.discovery in the file',
};

/** Every CloneSquad key name seed 000 mentions (aliases and unsupported ones), for documentation and tests. */
export const CLONESQUAD_KEYS_FROM_SEED: readonly string[] = [
  'ssm.enabled',
  'ssm.feature.maintenance_window',
  'ssm.feature.maintenance_window.start_ahead',
  'ssm.feature.events.ec2.maintenance_window_period',
  'ssm.feature.events.ec2.instance_ready_for_shutdown',
  'ssm.feature.events.ec2.instance_ready_for_shutdown.max_shutdown_delay',
  'ssm.feature.events.ec2.instance_ready_for_operation',
  'ssm.feature.events.ec2.instance_ready_for_operation.max_initializing_time',
  'ec2.schedule.min_instance_count',
  'ec2.schedule.desired_instance_count',
  'ec2.min_instance_count',
  'ec2.desired_instance_count',
];

const CS_DURATION_UNITS: Readonly<Record<string, number>> = { weeks: 7 * DAY_MS, days: DAY_MS, hours: HOUR, minutes: MIN, seconds: 1000, milliseconds: 1 };

/** A CloneSquad value in Fleetwarden's terms (a Bool's 0/1, a Duration's `minutes=15`); anything else unchanged. */
function fromCloneSquad(raw: unknown, format: 'bool' | 'duration' | undefined): unknown {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  if (format === 'bool' && typeof text === 'string' && /^-?\d+$/.test(text)) return Number(text) !== 0;
  if (format === 'bool' && typeof text === 'number' && Number.isInteger(text)) return text !== 0;
  if (format === 'bool' && typeof text === 'string' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  if (format === 'duration' && typeof text === 'string' && /^[a-z]+=\d+(\.\d+)?(,[a-z]+=\d+(\.\d+)?)*$/.test(text)) {
    let ms = 0;
    for (const part of text.split(',')) {
      const [unit = '', n = ''] = part.split('=');
      const size = CS_DURATION_UNITS[unit];
      if (size === undefined) return raw; // refused below with the usual message
      ms += Number(n) * size;
    }
    return ms / 1000;
  }
  return raw;
}

/** The Fleetwarden keys a setting name stands for: itself, or with the clonesquad preset its CloneSquad aliases. */
export function canonicalKeys(key: string, preset: 'fleetwarden' | 'clonesquad'): readonly string[] {
  if (preset === 'clonesquad') {
    for (const a of CLONESQUAD_ALIASES) if (a.re.test(key)) return a.keys.map((k) => key.replace(a.re, k));
  }
  return [key];
}

/**
 * Parses one setting as a layer gives it (a file's window overrides or schedule, a window tag): its name may be a
 * CloneSquad alias (clonesquad preset), and then its value may be written as CloneSquad writes it. Returns each
 * Fleetwarden key it sets with its value. A CloneSquad setting Fleetwarden does not implement is refused by name.
 */
export function parseSetting(key: string, raw: unknown, field: string, preset: 'fleetwarden' | 'clonesquad'): [string, KeyValue][] {
  if (preset === 'clonesquad') {
    const unsupported = CLONESQUAD_UNSUPPORTED[key];
    if (unsupported !== undefined) throw new ValidationError(field, `${quoted(key)} is a CloneSquad setting Fleetwarden does not implement (${unsupported})`);
    const alias = CLONESQUAD_ALIASES.find((a) => a.re.test(key));
    if (alias !== undefined) {
      const value = fromCloneSquad(raw, alias.format);
      return alias.keys.map((k) => {
        const target = key.replace(alias.re, k);
        return [target, parseKeyValue(target, value, field)];
      });
    }
  }
  return [[key, parseKeyValue(key, raw, field)]];
}

/** A subfleet or event name: one path segment. */
const NAME = '[A-Za-z0-9_-]+';
const NAME_RE = new RegExp(`^${NAME}$`);

/** Whether `name` can name a subfleet (one segment of a setting's path: letters, digits, `_` and `-`). */
export function isSegmentName(name: string): boolean {
  return NAME_RE.test(name);
}
const COMPILED = KEY_DEFS.map((def) => ({ def, re: new RegExp(`^${def.pattern.replace(/\./g, '\\.').replace('<name>', `(${NAME})`)}$`) }));

export function findKey(key: string): { def: KeyDef; name: string | undefined } | undefined {
  const known = FOUND.get(key);
  if (known !== undefined) return known ?? undefined;
  let found: { def: KeyDef; name: string | undefined } | null = null;
  for (const { def, re } of COMPILED) {
    const m = re.exec(key);
    if (m) {
      if (def.pattern.startsWith('events.<name>') && !(EVENT_KEYS as readonly string[]).includes(m[1] ?? '')) continue;
      found = { def, name: m[1] };
      break;
    }
  }
  // Every tick asks for the same keys of every group: each is matched against the registry once (a bounded cache,
  // since subfleet names and unknown keys come from files and the API).
  if (FOUND.size < 10_000) FOUND.set(key, found);
  return found ?? undefined;
}
const FOUND = new Map<string, { def: KeyDef; name: string | undefined } | null>();

/**
 * The error for a key that is not in the registry, with the keys of the same section as a hint (all sections when
 * the first word is wrong too): `fleets.mian.min` lists the `fleets.` keys.
 */
export function unknownKey(key: string, field: string): ValidationError {
  const section = key.split('.')[0] ?? '';
  const near = KEY_DEFS.filter((d) => d.pattern.startsWith(`${section}.`)).map((d) => d.pattern);
  const hint = near.length > 0 ? `${section} settings are ${near.join(', ')}` : `settings start with ${[...new Set(KEY_DEFS.map((d) => d.pattern.split('.')[0] ?? ''))].map((s) => `${s}.`).join(', ')}`;
  return new ValidationError(field, `unknown setting ${quoted(key)}; ${hint} (run 'fleetwarden config explain' for the list)`);
}

/** Parses a raw value for `key`; `field` names it in errors (a config path or a tag). */
export function parseKeyValue(key: string, raw: unknown, field: string): KeyValue {
  const found = findKey(key);
  if (!found) throw unknownKey(key, field);
  const type = found.def.type;
  switch (type.kind) {
    case 'count':
      return parseCount(raw, field);
    case 'optional-count':
      return raw === null || raw === '' || raw === 'unset' ? null : parseCount(raw, field);
    case 'duration':
      return parseDuration(raw, field, type.max);
    case 'integer': {
      const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < type.min || n > type.max) {
        throw new ValidationError(field, `expected a whole number from ${type.min} to ${type.max}, got ${quoted(raw)}`);
      }
      return n;
    }
    case 'boolean':
      if (raw === true || raw === 'true') return true;
      if (raw === false || raw === 'false') return false;
      throw new ValidationError(field, `expected true or false, got ${quoted(raw)}`);
    case 'enum':
      if (typeof raw === 'string' && type.values.includes(raw)) return raw;
      throw new ValidationError(field, `expected one of ${type.values.join(', ')}, got ${quoted(raw)}`);
  }
}

export function formatKeyValue(key: string, value: KeyValue): string {
  if (value === null) return 'unset';
  if (typeof value === 'object') return formatCount(value);
  if (typeof value === 'number' && findKey(key)?.def.type.kind === 'duration') return formatDuration(value);
  return String(value);
}

/** The default of a concrete key (`fleets.subfleets.batch.min`), or undefined for unknown keys. */
export function defaultOf(key: string): KeyValue | undefined {
  const found = findKey(key);
  if (!found) return undefined;
  if (key.endsWith('.timeLimit') && found.name === 'instance-state-change') return 10 * MIN;
  return found.def.default;
}
