import type { Limit } from '../maintenance/dispatch.js';
import type { Count } from '../domain/counts.js';
import type { KeyValue } from './keys.js';
import type { Schedule } from '../schedule/schedule.js';
import type { SimulatorSpec } from '../providers/simulator/spec.js';

/** Tag and window naming of a deployment: `fleetwarden` (FW-, fleetwarden:) or `clonesquad` (CS-, clonesquad:). */
export type Preset = 'fleetwarden' | 'clonesquad';

export interface Naming {
  readonly preset: Preset;
  /** Tag key prefix: `<prefix>:group-name`, `<prefix>:subfleet-name`, `<prefix>:config:KEY`. */
  readonly tagPrefix: string;
  /** SSM window name prefix: `FW-<Group>`, `CS-<Group>-Mainfleet`, ... */
  readonly windowPrefix: string;
  /** Where in-instance event scripts live. */
  readonly eventDir: string;
}

export function namingFor(preset: Preset): Naming {
  return preset === 'clonesquad'
    ? { preset, tagPrefix: 'clonesquad', windowPrefix: 'CS', eventDir: '/etc/cs-ssm/' }
    : { preset, tagPrefix: 'fleetwarden', windowPrefix: 'FW', eventDir: '/etc/fleetwarden/events/' };
}

/** What a maintenance window covers within a group. */
export type WindowScope = { readonly kind: 'group' } | { readonly kind: 'main' } | { readonly kind: 'subfleets' } | { readonly kind: 'subfleet'; readonly name: string };

/** A maintenance window from either source, with its schedule compiled (or the reason it could not be). */
/** A run-command task of a configuration window (maintenance-windows.md §5, fleet-behaviour.md §7). */
export interface TaskDecl {
  readonly name: string;
  readonly priority: number;
  readonly command: string;
  readonly targets: { readonly ids?: readonly string[]; readonly tags?: Readonly<Record<string, string>>; readonly fleets?: readonly string[] } | null;
  readonly maxConcurrency: Limit;
  readonly maxErrors: Limit;
  readonly timeoutMs: number;
  readonly cutoffBehavior: 'continue' | 'cancel';
  readonly rerunOnResume: boolean;
  readonly drain: boolean;
  readonly capacityFloor: Count;
  readonly healthCheck: { readonly command: string; readonly timeoutMs: number; readonly withinMs: number } | null;
  readonly settleMs: number;
}

export interface WindowDecl {
  readonly name: string;
  readonly source: 'file' | 'ssm';
  readonly scope: WindowScope;
  /** null when the schedule could not be parsed: the window then fails closed (no stop, no drain). */
  readonly schedule: Schedule | null;
  readonly error?: string;
  readonly overrides: Readonly<Record<string, KeyValue>>;
  readonly disableDefaultConfiguration: boolean;
  /** Tasks Fleetwarden runs in each period (configuration windows only). */
  readonly tasks?: readonly TaskDecl[];
  /** SSM's NextExecutionTime, where present: compared with our own evaluation, never trusted over it. */
  readonly nextExecutionTime?: number;
}

export interface ScheduleDecl {
  readonly name: string;
  readonly schedule: Schedule;
  readonly values: Readonly<Record<string, KeyValue>>;
}

export interface TierConfig {
  readonly name: string;
  readonly start: { readonly sequence: number; readonly synchronous: boolean; readonly readinessTimeoutMs: number; readonly onTimeout: 'abort' | 'continue' };
  readonly stop: { readonly sequence: number; readonly synchronous: boolean };
  readonly bypassFile: { readonly path: string; readonly os: 'linux' | 'windows' } | null;
  readonly ignoreStop: boolean;
}

export interface WorkloadConfig {
  readonly tierTag: string;
  readonly tiers: readonly TierConfig[];
  /** Instances carrying this tag belong to the workload too (seed 003 EnvFilterTagName/Value), without the group tag. */
  readonly envFilter: { readonly key: string; readonly value: string } | null;
  /** Where the workload runs (provider aws): its EC2, ELBv2 and SSM calls go to this region; null = aws.region. */
  readonly region: string | null;
  /** Where SSM puts the output of commands sent to the workload; null = aws.outputBucket/outputPrefix. */
  readonly ssmOutput: { readonly bucket: string; readonly prefix: string } | null;
}

export interface GroupConfig {
  readonly name: string;
  readonly lighthouse: { readonly tagged: boolean; readonly instanceTypes: readonly string[] };
  /** Tunable values set in the file, by key (validated). */
  readonly fileValues: Readonly<Record<string, KeyValue>>;
  readonly windows: readonly WindowDecl[];
  readonly schedules: readonly ScheduleDecl[];
  readonly workload: WorkloadConfig | null;
}

export interface ControllerSettings {
  readonly tickIntervalMs: number;
  readonly leaseTtlMs: number;
  readonly historyRetentionMs: number;
  readonly outputRetentionMs: number;
  readonly owner: string | undefined;
  /** How events and bypass checks reach instances: SSM Run Command (or the simulator's scripts), or pulled by agents. */
  readonly eventDelivery: 'run-command' | 'agent';
}

export interface FleetConfig {
  readonly naming: Naming;
  readonly ssmDiscovery: boolean;
  readonly groups: readonly GroupConfig[];
  readonly provider: 'simulator' | 'aws';
  readonly storePath: string | undefined;
  readonly store: { readonly kind: 'sqlite' | 'dynamodb'; readonly table: string | undefined };
  readonly aws: { readonly region: string | undefined; readonly hibernate: boolean; readonly outputBucket: string | undefined; readonly outputPrefix: string | undefined };
  readonly controller: ControllerSettings;
  /** The simulated fleet (provider: simulator), validated. */
  readonly simulator: SimulatorSpec | undefined;
}
