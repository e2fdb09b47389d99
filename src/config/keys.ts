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
 * Longest values (README: Configuration → Bounds). Past them a value is a typo, and instants computed from it
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
];

/** Keys from the seed system's tags (`clonesquad:config:<key>`), accepted with the clonesquad preset. */
const CLONESQUAD_ALIASES: readonly (readonly [RegExp, string])[] = [
  [/^ec2\.(schedule\.)?min_instance_count$/, 'fleets.main.min'],
  [/^ec2\.(schedule\.)?desired_instance_count$/, 'fleets.main.desired'],
  [/^subfleet\.([^.]+)\.state$/, 'fleets.subfleets.$1.state'],
  [/^subfleet\.([^.]+)\.ec2\.schedule\.min_instance_count$/, 'fleets.subfleets.$1.min'],
  [/^subfleet\.([^.]+)\.ec2\.schedule\.desired_instance_count$/, 'fleets.subfleets.$1.desired'],
];

export function canonicalKey(key: string, preset: 'fleetwarden' | 'clonesquad'): string {
  if (preset === 'clonesquad') {
    for (const [re, target] of CLONESQUAD_ALIASES) if (re.test(key)) return key.replace(re, target);
  }
  return key;
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
  for (const { def, re } of COMPILED) {
    const m = re.exec(key);
    if (m) {
      if (def.pattern.startsWith('events.<name>') && !(EVENT_KEYS as readonly string[]).includes(m[1] ?? '')) continue;
      return { def, name: m[1] };
    }
  }
  return undefined;
}

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
