/**
 * `fleetwarden config import-ec2-scheduler`: the seed 003 product's DynamoDB items — `WorkloadSpecification` and
 * `TierSpecification`, as seed 003 shows them (numbers and booleans as strings, "True"/"False") or as
 * `aws dynamodb scan` prints them (typed attribute values) — converted into Fleetwarden's configuration, so an existing
 * setup moves over with one command. Every unknown or invalid field is reported by name, all at once; nothing is
 * produced unless everything converts, and the result is checked by the configuration's own validator.
 */
import { Document } from 'yaml';
import { ValidationError, ValidationErrors } from '../domain/errors.js';
import { parseConfig } from './load.js';
import { AWS_REGION } from './schema.js';

/** The fields of each item kind the seed documents (and the kill switch its override section names). */
const WORKLOAD_FIELDS = ['SpecName', 'EnvFilterTagName', 'EnvFilterTagValue', 'TierFilterTagName', 'Region', 'SSMS3BucketName', 'SSMS3KeyPrefixName', 'DisableAllSchedulingActions'] as const;
const TIER_FIELDS = ['SpecName', 'TierTagValue', 'TierStart', 'TierStop'] as const;
const START_FIELDS = ['TierSequence', 'TierSynchronization'] as const;
const STOP_FIELDS = ['TierSequence', 'TierSynchronization', 'TierStopOverrideFilename', 'TierStopOverrideOperatingSystem'] as const;

/** One input file's text and the name problems are reported under. */
export interface ImportSource {
  readonly name: string;
  readonly text: string;
}

interface Item {
  readonly path: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

type Problems = ValidationError[];

/** A DynamoDB attribute value (`{"S": "x"}`, `{"N": "2"}`, `{"M": {...}}` ...) to plain JSON; anything else as is. */
function unmarshal(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const entries = Object.entries(v as Record<string, unknown>);
  const [only] = entries;
  if (entries.length !== 1 || only === undefined) return v;
  const [type, value] = only;
  switch (type) {
    case 'S':
    case 'N':
      return typeof value === 'string' ? value : v;
    case 'BOOL':
      return typeof value === 'boolean' ? value : v;
    case 'NULL':
      return null;
    case 'M':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, x]) => [k, unmarshal(x)])) : v;
    case 'L':
      return Array.isArray(value) ? value.map(unmarshal) : v;
    default:
      return v;
  }
}

/** The items of one file: one item, an array of items, or a DynamoDB scan (`{"Items": [...]}`). */
function itemsOf(source: ImportSource, problems: Problems): Item[] {
  let doc: unknown;
  try {
    doc = JSON.parse(source.text);
  } catch (err) {
    problems.push(new ValidationError(source.name, `is not JSON: ${err instanceof Error ? err.message : String(err)}`));
    return [];
  }
  const asItem = (v: unknown, path: string): Item | null => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      problems.push(new ValidationError(path, 'expected an item (a JSON object)'));
      return null;
    }
    return { path, fields: v as Record<string, unknown> };
  };
  if (Array.isArray(doc)) return doc.flatMap((v, i) => asItem(v, `${source.name}[${i}]`) ?? []);
  if (doc !== null && typeof doc === 'object' && Array.isArray((doc as { Items?: unknown }).Items)) {
    return ((doc as { Items: unknown[] }).Items).flatMap((v, i) => asItem(unmarshal({ M: v }), `${source.name}.Items[${i}]`) ?? []);
  }
  const one = asItem(doc, source.name);
  return one === null ? [] : [one];
}

function unknownFields(item: Item, allowed: readonly string[], what: string, problems: Problems, path = item.path, fields = item.fields): void {
  for (const k of Object.keys(fields)) {
    if (allowed.includes(k)) continue;
    const hint = (START_FIELDS as readonly string[]).includes(k) || (STOP_FIELDS as readonly string[]).includes(k) ? '; it belongs inside TierStart or TierStop' : '';
    problems.push(new ValidationError(`${path}.${k}`, `unknown field of a ${what} (known: ${allowed.join(', ')})${hint}`));
  }
}

function text(v: unknown, path: string, problems: Problems, required: boolean): string | undefined {
  if (v === undefined || v === null || v === '') {
    if (required) problems.push(new ValidationError(path, 'is required'));
    return undefined;
  }
  if (typeof v !== 'string') {
    problems.push(new ValidationError(path, `expected a string, got ${JSON.stringify(v)}`));
    return undefined;
  }
  return v;
}

/** "True" / "False" as the seed writes them (any case), or a JSON boolean. */
function bool(v: unknown, path: string, problems: Problems): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  problems.push(new ValidationError(path, `expected "True" or "False", got ${JSON.stringify(v)}`));
  return undefined;
}

/** A tier sequence: a whole number 0-1000, as a string ("2") or a number. The seed sets no upper bound; we do. */
function sequence(v: unknown, path: string, problems: Problems): number | undefined {
  if (v === undefined) {
    problems.push(new ValidationError(path, 'is required'));
    return undefined;
  }
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 1000) {
    problems.push(new ValidationError(path, `expected a whole number from 0 to 1000 (e.g. "2"), got ${JSON.stringify(v)}`));
    return undefined;
  }
  return n;
}

function object(v: unknown, path: string, problems: Problems): Record<string, unknown> | undefined {
  if (v === undefined) {
    problems.push(new ValidationError(path, 'is required'));
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    problems.push(new ValidationError(path, 'expected an object'));
    return undefined;
  }
  return v as Record<string, unknown>;
}

interface TierOut {
  name: string;
  start: { sequence: number; synchronous: boolean };
  stop: { sequence: number; synchronous: boolean };
  bypassFile?: { path: string; os: 'linux' | 'windows' };
}

function convertTier(item: Item, problems: Problems): { spec: string | undefined; tier: TierOut | undefined } {
  const p = item.path;
  unknownFields(item, TIER_FIELDS, 'TierSpecification', problems);
  const spec = text(item.fields['SpecName'], `${p}.SpecName`, problems, true);
  const name = text(item.fields['TierTagValue'], `${p}.TierTagValue`, problems, true);
  const start = object(item.fields['TierStart'], `${p}.TierStart`, problems);
  const stop = object(item.fields['TierStop'], `${p}.TierStop`, problems);
  if (start) unknownFields(item, START_FIELDS, 'TierStart', problems, `${p}.TierStart`, start);
  if (stop) unknownFields(item, STOP_FIELDS, 'TierStop', problems, `${p}.TierStop`, stop);
  const startSeq = start && sequence(start['TierSequence'], `${p}.TierStart.TierSequence`, problems);
  const startSync = start && bool(start['TierSynchronization'], `${p}.TierStart.TierSynchronization`, problems);
  const stopSeq = stop && sequence(stop['TierSequence'], `${p}.TierStop.TierSequence`, problems);
  const stopSync = stop && bool(stop['TierSynchronization'], `${p}.TierStop.TierSynchronization`, problems);
  const file = stop && text(stop['TierStopOverrideFilename'], `${p}.TierStop.TierStopOverrideFilename`, problems, false);
  const osRaw = stop && text(stop['TierStopOverrideOperatingSystem'], `${p}.TierStop.TierStopOverrideOperatingSystem`, problems, false);
  let os: 'linux' | 'windows' | undefined;
  if (osRaw !== undefined) {
    if (/^(linux|windows)$/i.test(osRaw)) os = osRaw.toLowerCase() as 'linux' | 'windows';
    else problems.push(new ValidationError(`${p}.TierStop.TierStopOverrideOperatingSystem`, `expected "Linux" or "Windows", got ${JSON.stringify(osRaw)}`));
  }
  if (file !== undefined && osRaw === undefined) problems.push(new ValidationError(`${p}.TierStop.TierStopOverrideOperatingSystem`, 'is required with TierStopOverrideFilename ("Linux" or "Windows")'));
  if (file === undefined && osRaw !== undefined) problems.push(new ValidationError(`${p}.TierStop.TierStopOverrideOperatingSystem`, 'only applies with TierStopOverrideFilename'));
  if (name === undefined || startSeq === undefined || stopSeq === undefined) return { spec, tier: undefined };
  return {
    spec,
    tier: {
      name,
      start: { sequence: startSeq, synchronous: startSync ?? false },
      stop: { sequence: stopSeq, synchronous: stopSync ?? false },
      ...(file !== undefined && os !== undefined ? { bypassFile: { path: file, os } } : {}),
    },
  };
}

/**
 * Converts the items of every source into the text of a Fleetwarden configuration file (YAML). Throws
 * `ValidationErrors` naming every unknown or invalid field (`file[i].TierStart.TierSequence: ...`).
 */
export function importEc2Scheduler(sources: readonly ImportSource[]): { readonly yaml: string; readonly workloads: readonly string[] } {
  const problems: Problems = [];
  const items = sources.flatMap((s) => itemsOf(s, problems));
  const workloads = new Map<string, { path: string; group: Record<string, unknown>; tiers: TierOut[]; tierPaths: Map<string, string> }>();
  const tierItems: Item[] = [];
  for (const item of items) {
    if ('TierTagValue' in item.fields || 'TierStart' in item.fields || 'TierStop' in item.fields) {
      tierItems.push(item);
      continue;
    }
    const p = item.path;
    unknownFields(item, WORKLOAD_FIELDS, 'WorkloadSpecification', problems);
    const f = item.fields;
    const spec = text(f['SpecName'], `${p}.SpecName`, problems, true);
    const envKey = text(f['EnvFilterTagName'], `${p}.EnvFilterTagName`, problems, true);
    const envValue = text(f['EnvFilterTagValue'], `${p}.EnvFilterTagValue`, problems, true);
    const tierTag = text(f['TierFilterTagName'], `${p}.TierFilterTagName`, problems, true);
    const region = text(f['Region'], `${p}.Region`, problems, false);
    const bucket = text(f['SSMS3BucketName'], `${p}.SSMS3BucketName`, problems, false);
    const prefix = text(f['SSMS3KeyPrefixName'], `${p}.SSMS3KeyPrefixName`, problems, false);
    const kill = bool(f['DisableAllSchedulingActions'], `${p}.DisableAllSchedulingActions`, problems);
    if (spec !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(spec)) problems.push(new ValidationError(`${p}.SpecName`, `${JSON.stringify(spec)} cannot name a Fleetwarden group (1-64 letters, digits, - or _); rename the workload`));
    if (region !== undefined && !AWS_REGION.test(region)) problems.push(new ValidationError(`${p}.Region`, `expected an AWS region such as us-west-2, got ${JSON.stringify(region)}`));
    if (prefix !== undefined && bucket === undefined) problems.push(new ValidationError(`${p}.SSMS3KeyPrefixName`, 'only applies with SSMS3BucketName'));
    if (spec === undefined) continue;
    if (workloads.has(spec)) {
      problems.push(new ValidationError(`${p}.SpecName`, `workload ${JSON.stringify(spec)} is also specified by ${workloads.get(spec)?.path ?? ''}`));
      continue;
    }
    const workload: Record<string, unknown> = {
      state: 'undefined',
      ...(kill === true ? { killSwitch: true } : {}),
      ...(envKey !== undefined && envValue !== undefined ? { envFilterTag: { key: envKey, value: envValue } } : {}),
      tierTag,
      ...(region === undefined ? {} : { region }),
      ...(bucket === undefined ? {} : { ssmOutputBucket: bucket }),
      ...(prefix === undefined ? {} : { ssmOutputPrefix: prefix }),
    };
    workloads.set(spec, { path: p, group: { name: spec, workload }, tiers: [], tierPaths: new Map() });
  }
  const withTierItems = new Set<string>();
  for (const item of tierItems) {
    const { spec, tier } = convertTier(item, problems);
    if (spec === undefined) continue;
    withTierItems.add(spec);
    const w = workloads.get(spec);
    if (w === undefined) {
      problems.push(new ValidationError(`${item.path}.SpecName`, `no WorkloadSpecification item has SpecName ${JSON.stringify(spec)}${workloads.size === 0 ? '' : ` (workloads: ${[...workloads.keys()].join(', ')})`}`));
      continue;
    }
    if (tier === undefined) continue;
    const twice = w.tierPaths.get(tier.name);
    if (twice !== undefined) problems.push(new ValidationError(`${item.path}.TierTagValue`, `tier ${JSON.stringify(tier.name)} of ${spec} is also specified by ${twice}; each tier name must be unique`));
    else {
      w.tierPaths.set(tier.name, item.path);
      w.tiers.push(tier);
    }
  }
  for (const [spec, w] of workloads) if (!withTierItems.has(spec)) problems.push(new ValidationError(`${w.path}.SpecName`, `no TierSpecification item for workload ${JSON.stringify(spec)}: a workload needs at least one tier`));
  if (items.length === 0 && problems.length === 0) problems.push(new ValidationError(sources.map((s) => s.name).join(', ') || 'FILE', 'no WorkloadSpecification or TierSpecification item found'));
  if (problems.length > 0) throw new ValidationErrors(problems);

  const groups = [...workloads.values()].map((w) => ({ ...w.group, workload: { ...(w.group['workload'] as Record<string, unknown>), tiers: w.tiers } }));
  const file = { provider: 'aws', groups };
  // Checked by the configuration's own validator: a value the seed accepts but we do not (a tag key, a region, a
  // bucket name, two workloads on one filter) is reported here, by the workload it came from.
  try {
    parseConfig(file);
  } catch (err) {
    if (!(err instanceof ValidationErrors)) throw err;
    throw new ValidationErrors(err.issues.map((i) => {
      const m = /^groups\[(\d+)\]\.?(.*)$/.exec(i.field);
      const w = m === null ? undefined : [...workloads.values()][Number(m[1])];
      return new ValidationError(w === undefined ? i.field : `${w.path} (SpecName ${JSON.stringify(w.group['name'])}) → ${m?.[2] ?? ''}`, i.reason);
    }));
  }
  const doc = new Document(file);
  doc.commentBefore = [
    ` Converted by 'fleetwarden config import-ec2-scheduler' from ${sources.map((s) => s.name).join(', ')}.`,
    ' workload.state is undefined (hands off) until you say otherwise: add schedules that set it, or start and stop',
    " on demand with 'fleetwarden workload start|stop NAME'. Instances are found by envFilterTag (EnvFilterTagName/Value).",
  ].join('\n');
  return { yaml: doc.toString({ lineWidth: 0 }), workloads: [...workloads.keys()] };
}
