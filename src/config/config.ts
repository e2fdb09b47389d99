import type { Count } from '../domain/counts.js';
import type { KeyValue } from './keys.js';
import type { Schedule } from '../schedule/schedule.js';
import type { SimulatorSpec } from './simulator-spec.js';

export { type Naming, namingFor, type Preset } from '../domain/naming.js';
import type { Naming } from '../domain/naming.js';

/** What a maintenance window covers within a group. */
export type WindowScope = { readonly kind: 'group' } | { readonly kind: 'main' } | { readonly kind: 'subfleets' } | { readonly kind: 'subfleet'; readonly name: string };

/** An SSM document a task runs instead of a shell command (seed 001: AWS-RunPatchBaseline, Operation=Scan). */
export interface DocumentCall {
  readonly name: string;
  readonly parameters: Readonly<Record<string, readonly string[]>>;
}

/** How a document call reads in logs and to the simulator's `match`: `AWS-RunPatchBaseline Operation=Scan`. */
export function describeDocument(d: DocumentCall): string {
  return [d.name, ...Object.entries(d.parameters).map(([k, v]) => `${k}=${v.join(',')}`)].join(' ');
}

/** A run-command task of a configuration window (docs/maintenance.md#maintenance-tasks). */
export interface TaskDecl {
  readonly name: string;
  readonly priority: number;
  /** The shell script (AWS-RunShellScript), or null when the task runs `document`: exactly one of them is set. */
  readonly command: string | null;
  readonly document: DocumentCall | null;
  /** Where SSM keeps this task's full output (the task's outputBucket/outputPrefix); null: `aws.outputBucket`. */
  readonly output: { readonly bucket: string; readonly prefix: string } | null;
  /** Run on instances where an earlier task of the execution failed (default: skip them). */
  readonly runAfterFailure: boolean;
  readonly targets: { readonly ids?: readonly string[]; readonly tags?: Readonly<Record<string, string>>; readonly fleets?: readonly string[] } | null;
  readonly maxConcurrency: Count;
  readonly maxErrors: Count;
  readonly timeoutMs: number;
  readonly cutoffBehavior: 'continue' | 'cancel';
  readonly rerunOnResume: boolean;
  readonly drain: boolean;
  readonly capacityFloor: Count;
  readonly healthCheck: { readonly command: string; readonly timeoutMs: number; readonly withinMs: number } | null;
  readonly settleMs: number;
}

/** A maintenance window from either source, with its schedule compiled (or the reason it could not be). */
export interface WindowDecl {
  readonly name: string;
  readonly source: 'file' | 'ssm';
  readonly description?: string;
  /** When a task exceeds its error budget: later priorities do not start (`abort`, seed 001's MaxErrors 0) or do. */
  readonly onTaskFailure?: 'abort' | 'continue';
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
  /** Where the group lives on AWS (provider aws): its region and the role its calls assume (hub and spoke). */
  readonly aws: GroupAws;
}

export interface GroupAws {
  /** The group's region (its `aws.region`, or its workload's); null: the controller's aws.region. */
  readonly region: string | null;
  /** A role assumed for every call of the group (another account's spoke role); null: the controller's credentials. */
  readonly roleArn: string | null;
  readonly externalId: string | null;
}

export interface ControllerSettings {
  readonly tickIntervalMs: number;
  readonly leaseTtlMs: number;
  readonly historyRetentionMs: number;
  readonly outputRetentionMs: number;
  readonly owner: string | undefined;
  /** How events and bypass checks reach instances: SSM Run Command (or the simulator's scripts), or pulled by agents. */
  readonly eventDelivery: 'run-command' | 'agent';
  /** IAM-role login of agents (`POST /v1/auth/iam`); null: agents need operator-issued tokens. */
  readonly agentIam: AgentIamSettings | null;
  readonly operatorIam: OperatorIamSettings | null;
}

export interface OperatorIamSettings {
  /** Undefined: the API's own function URL domain (on Lambda); elsewhere no operator can log in. */
  readonly serverId: string | undefined;
  readonly accounts: readonly string[];
  readonly admins: readonly string[];
  readonly viewers: readonly string[];
  readonly stsEndpoint: string | undefined;
  readonly tokenTtlMs: number;
}

export interface AgentIamSettings {
  /** Undefined: the API's own function URL domain (on Lambda); elsewhere no agent can log in. */
  readonly serverId: string | undefined;
  /** At least one: a role name alone proves nothing (any account can create a role of that name). */
  readonly accounts: readonly string[];
  /** Empty: any role of the allowed accounts. */
  readonly roles: readonly string[];
  readonly stsEndpoint: string | undefined;
  readonly tokenTtlMs: number;
}

export interface EventsSettings {
  /** EventBridge PutEvents; null: off. `busName` undefined: the account's default bus. */
  readonly eventBridge: { readonly busName: string | undefined } | null;
  /** A webhook; the secret itself is read from `secretEnv` when the sink is built, never kept in the configuration. */
  readonly webhook: { readonly url: string; readonly secretEnv: string | undefined; readonly timeoutMs: number } | null;
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
  /** Where events are published (events out); both null: nowhere but the log. */
  readonly events: EventsSettings;
  /** The simulated fleet (provider: simulator), validated. */
  readonly simulator: SimulatorSpec | undefined;
}

/** A task's health check is stopped after this when its `healthCheck.timeout` is not given. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 30_000;
