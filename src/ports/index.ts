/**
 * Ports: the interfaces the reconciler talks to. Implementations live in providers/ and store/; nothing here
 * knows about EC2 state names, SDK types or SQL.
 */
import type { SsmWindowInfo } from '../config/ssm-windows.js';
import type { Override } from '../config/resolve.js';
import type { KeyValue } from '../config/keys.js';
import type { BypassResult, Control, EventName, EventResult, InstanceRecord, ObservedInstance, TargetHealth, WorkloadRecord } from '../domain/model.js';
import type { ActionFailure, BypassCheckResult, Transition } from '../planner/types.js';
import type { CancelRequest, TaskRunResult, WindowExecution } from '../maintenance/model.js';
import type { DocumentCall } from '../config/config.js';
import type { ReportedProblem } from '../domain/problems.js';
import type { AgentAck } from '../domain/agent-ack.js';

export type { Clock } from '../domain/time.js';

/** The outcome of a provider action for one instance. */
export interface ActionResult {
  readonly instanceId: string;
  readonly ok: boolean;
  readonly detail?: string;
}

/**
 * One group's instances by a tag and value (its group tag, a workload's filter tag): given, listInstances lists only
 * the instances carrying one of them (the Lambda worker observes its own group, not the fleet), still with every tag.
 */
export interface TagSelector {
  readonly key: string;
  readonly value: string;
}

export interface FleetProvider {
  /**
   * Every instance carrying one of these tag keys (any value), with its power and provider health: the group tag key,
   * and the tag keys workloads select their instances by (seed 003 EnvFilterTagName).
   */
  listInstances(tagKeys: readonly string[], select?: readonly TagSelector[]): Promise<ObservedInstance[]>;
  /**
   * Groups the last listing could not observe (their account or region failed: AssumeRole denied, throttled), with
   * why. A provider spanning several accounts/regions answers for the others instead of failing the whole listing;
   * the reconciler fails only these groups' ticks. Absent: a listing is all or nothing.
   */
  unobserved?(): ReadonlyMap<string, Error>;
  start(instanceIds: readonly string[]): Promise<ActionResult[]>;
  stop(instanceIds: readonly string[], options: { readonly force: boolean }): Promise<ActionResult[]>;
}

export interface LoadBalancer {
  /** As FleetProvider.unobserved, for the last targetHealth/deregistrationDelays. */
  unobserved?(): ReadonlyMap<string, Error>;
  /**
   * Health of each instance in every managed target group, by instance id then target group id; read-only (an
   * adapter may hand back the same answer while nothing changed). `groups`: only the target groups of these groups
   * are needed (an adapter may answer for more; reconcileGroup passes its group).
   */
  targetHealth(groups?: readonly string[]): Promise<ReadonlyMap<string, Readonly<Record<string, TargetHealth>>>>;
  register(targetGroup: string, instanceIds: readonly string[]): Promise<void>;
  deregister(targetGroup: string, instanceIds: readonly string[]): Promise<void>;
  /**
   * The deregistration delay of each managed target group, in milliseconds: how long it lets a deregistered target
   * finish in-flight requests. A drain lasts at least this long. A target group it cannot tell is absent.
   */
  deregistrationDelays(): Promise<ReadonlyMap<string, number>>;
}

/** A command sent to instances whose results are read later (SSM Run Command, or the simulator's scripts). */
export interface CommandHandle {
  readonly id: string;
  readonly kind: 'event' | 'bypass' | 'script';
  readonly group: string;
  readonly instanceIds: readonly string[];
  readonly event?: EventName;
  readonly sentAt: number;
  /** The provider's own id when it differs from `id` (SSM command ids of a maintenance script). */
  readonly ref?: string;
}

export interface CommandResults {
  readonly events: EventResult[];
  readonly bypass: BypassCheckResult[];
  /** Results of maintenance scripts (tasks and health checks). */
  readonly scripts?: TaskRunResult[];
  /** Handles that are finished for every instance: no need to ask again. */
  readonly finished: string[];
}

export interface ScriptOptions {
  /** An invocation interrupted by an agent restart may run again. */
  readonly mayRerun: boolean;
  /**
   * Run this SSM document instead (SSM Run Command); `script` then only describes it (the simulator matches on it).
   * Runners that cannot run documents refuse them; configuration validation keeps them from being asked.
   */
  readonly document?: DocumentCall;
  /** The task's own output location for SSM (OutputS3BucketName/OutputS3KeyPrefix). */
  readonly output?: { readonly bucket: string; readonly prefix: string };
}

export interface CommandRunner {
  runEvent(group: string, instanceIds: readonly string[], event: EventName, args: readonly string[], timeoutMs: number): Promise<CommandHandle>;
  checkBypass(group: string, instanceIds: readonly string[], path: string, os: 'linux' | 'windows'): Promise<CommandHandle>;
  /**
   * A maintenance script (a task or its health check) on one instance, under a command id of the caller's: sending
   * the same id again must not run it twice. Exit 194 asks for a reboot and a second run, as SSM does.
   */
  runScript(group: string, instanceId: string, commandId: string, script: string, timeoutMs: number, options: ScriptOptions): Promise<CommandHandle>;
  /**
   * Asks for a maintenance script on one instance to stop (cutoff with `cancel`, or a cancelled execution). Its
   * result then says `cancelled` — or how it ended, if it ended first. Asking twice, or after it ended, is harmless.
   */
  cancel(handle: CommandHandle, instanceId: string): Promise<void>;
  /** Results that have arrived for these handles. */
  results(handles: readonly CommandHandle[]): Promise<CommandResults>;
}

export interface WindowSource {
  list(): Promise<SsmWindowInfo[]>;
}

/** Where full command output is kept (a local directory by default, S3 on AWS), with a retention. */
export interface StoredObject {
  readonly key: string;
  readonly lastModified: number;
  readonly size: number;
}

export interface ObjectStore {
  put(key: string, body: string): Promise<void>;
  /** The object's text, or null when there is none. */
  get(key: string): Promise<string | null>;
  list(prefix: string): Promise<StoredObject[]>;
  delete(keys: readonly string[]): Promise<void>;
}

/** What a history entry is about (`agent`: an agent's report of what it applied changed). */
export const HISTORY_TYPES = ['transition', 'command', 'window', 'retry', 'error', 'lease', 'override', 'control', 'maintenance', 'problem', 'agent'] as const;
export type HistoryType = (typeof HISTORY_TYPES)[number];

/** One line of the append-only history. */
export interface HistoryEntry {
  readonly id?: number;
  readonly at: number;
  readonly group: string;
  readonly instanceId: string | null;
  readonly type: HistoryType;
  readonly summary: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An API credential: the admin, or an agent limited to its own instance. */
export interface ApiToken {
  /** Hex SHA-256 of the token. */
  readonly hash: string;
  /** admin: everything; viewer: reads (GET) what the admin reads, changes nothing; agent: its own instance. */
  readonly role: 'admin' | 'viewer' | 'agent';
  readonly instanceId: string | null;
  readonly createdAt: number;
  readonly label: string;
}

/** What an agent reports for a pulled command: an event's outcome by the exit-code table, or a bypass check's. */
export const AGENT_OUTCOMES = ['success', 'failed', 'timed-out', 'cancelled', 'present', 'absent', 'unknown'] as const;
export type AgentOutcome = (typeof AGENT_OUTCOMES)[number];

export interface AgentCommandResult {
  readonly at: number;
  readonly outcome: AgentOutcome;
  readonly exitCode: number | null;
  /** The script's output (truncated by the agent). */
  readonly output: string;
  /** Reboots a maintenance script asked for (exit 194) before this final result. */
  readonly reboots?: number;
}

/** One command for one instance, pulled by its agent: an event script, a bypass file check, or a maintenance script. */
export interface AgentCommand {
  /** The command handle's id (shared by every instance of the command). */
  readonly id: string;
  readonly instanceId: string;
  readonly group: string;
  readonly kind: 'event' | 'bypass' | 'script';
  readonly event?: EventName;
  readonly args: readonly string[];
  readonly path?: string;
  /** A maintenance script's text (run by /bin/sh), and whether it may run again after an interruption. */
  readonly script?: string;
  readonly mayRerun?: boolean;
  readonly timeoutMs: number;
  readonly sentAt: number;
  /** When the controller asked for it to stop (a maintenance script): the agent kills it, or never starts it. */
  readonly cancelRequestedAt?: number;
  /**
   * Earlier commands of the same delivery (event and arguments) this one replaces, still unanswered when it was
   * queued: the agent runs the delivery once, and the first run's result answers them all.
   */
  readonly replaces?: readonly string[];
  readonly result?: AgentCommandResult;
}

/**
 * A group's lease: who holds it until when, and its generation — the fencing token. The generation grows every time
 * the lease passes to another owner (a renewal keeps it), so a controller that lost the lease, even for a moment,
 * holds a stale generation and every write it attempts is refused.
 */
export interface Lease {
  readonly group: string;
  readonly owner: string;
  readonly generation: number;
  readonly expiresAt: number;
}

/** What a write presents to prove it comes from the lease holder. */
export type LeaseToken = Pick<Lease, 'owner' | 'generation'>;

/** Everything one tick writes for one group, saved in one transaction. */
export interface TickWrite {
  readonly group: string;
  /** The writer's lease: the store refuses the whole write (LeaseLostError) unless it is still the group's. */
  readonly lease: LeaseToken;
  /**
   * Passes only while the writer still holds its lease with time to spare (GroupFence.check; throws LeaseLostError
   * otherwise). A store whose item writes cannot carry the lease as a condition (DynamoDB's batch puts) calls it
   * before each request it sends, so a writer that lost its lease, or was stopped past it, sends nothing more.
   */
  readonly fence?: () => Promise<void>;
  readonly at: number;
  /** Records to insert or replace (a caller may pass only those that changed). */
  readonly records: readonly InstanceRecord[];
  /** Records to delete: instances no longer managed. */
  readonly removed?: readonly string[];
  readonly workload?: WorkloadRecord | undefined;
  readonly transitions: readonly Transition[];
  readonly history: readonly HistoryEntry[];
  readonly newHandles: readonly CommandHandle[];
  readonly finishedHandles: readonly string[];
  /** Failures of this tick's actions, for the next tick's planner. */
  readonly failures: readonly ActionFailure[];
  /** Failures the planner has now consumed. */
  readonly consumedFailures: boolean;
  /** Which window periods were active, to record enter/exit once. */
  readonly activeWindows: readonly string[];
  /** Window executions to insert or replace. */
  readonly executions?: readonly WindowExecution[];
  /** The group's problems now (replacing those saved before); absent: unchanged. */
  readonly problems?: readonly ReportedProblem[];
}

export interface GroupState {
  readonly records: Map<string, InstanceRecord>;
  readonly workload: WorkloadRecord | undefined;
  readonly handles: CommandHandle[];
  readonly failures: ActionFailure[];
  readonly activeWindows: string[];
  /** Window executions still running, or holding an instance out of service. */
  readonly executions: WindowExecution[];
  /** Input the group's last tick could not use (reported, left alone). */
  readonly problems: ReportedProblem[];
}

/*
 * Persistent state, split by role: each consumer asks only for the roles it uses, so a partial implementation (a
 * test double, a store backed by another service for one role) can serve it. One class may implement all of them:
 * `Store` is their intersection.
 */

/** Group leases: who may write a group's state (the fencing token of every write). */
export interface LeaseStore {
  /**
   * Acquires or renews the lease of `group` for `owner` until now + ttl; null when another owner holds it. Taking it
   * over from another owner (or after a release) increases the generation; a renewal keeps it.
   */
  acquireLease(group: string, owner: string, now: number, ttlMs: number): Promise<Lease | null>;
  /** Ends `owner`'s lease at once (the generation is kept, so a later holder's is still higher). */
  releaseLease(group: string, owner: string): Promise<void>;
  leaseHolder(group: string, now: number): Promise<Lease | null>;
}

/** A group's reconciled state: what a tick loads and saves, and the read-only views of it. */
export interface GroupStateStore {
  loadGroup(group: string): Promise<GroupState>;
  /** The problems a group's last saved tick reported (a cheap read, for status views and metrics). */
  problems(group: string): Promise<ReportedProblem[]>;
  /** Everything one tick writes for one group, atomically. */
  saveTick(write: TickWrite): Promise<void>;
  /** Every record, for status views. */
  allRecords(): Promise<InstanceRecord[]>;
}

/** A history query: every given field must match. */
export interface HistoryQuery {
  readonly group?: string | undefined;
  readonly instanceId?: string | undefined;
  readonly types?: readonly HistoryType[] | undefined;
  /** Entries at or after this instant (ms). */
  readonly from?: number | undefined;
  /** Entries before this instant (ms). */
  readonly to?: number | undefined;
  readonly before?: number | undefined;
  readonly limit: number;
}

/** The append-only history. */
export interface HistoryStore {
  /**
   * Entries newest first (by id) matching every given filter: `types` any of these, `from` ≤ at < `to`; `before`
   * pages on with the previous page's last id.
   */
  history(query: HistoryQuery): Promise<HistoryEntry[]>;
  /** With `lease`, refused (LeaseLostError) unless the lease is still the group's (entries of one group only). */
  appendHistory(entries: readonly HistoryEntry[], lease?: LeaseToken & { readonly group: string }): Promise<void>;
  pruneHistory(olderThan: number): Promise<number>;
}

/** Operator settings: overrides of group keys, stored key values, and per-instance controls. */
export interface SettingsStore {
  overrides(now: number): Promise<Override[]>;
  setOverride(o: Override, at: number): Promise<void>;
  removeOverride(group: string, key: string): Promise<boolean>;
  storeValues(group: string): Promise<Record<string, KeyValue>>;
  setStoreValue(group: string, key: string, value: KeyValue): Promise<void>;
  controls(now: number): Promise<Control[]>;
  setControl(c: Control, at: number): Promise<void>;
  removeControl(instanceId: string, kind: Control['kind']): Promise<boolean>;
}

/** The API's tokens: the admin's and each agent's. */
export interface TokenStore {
  /** API credentials, by the SHA-256 of the token (the token itself is never stored). */
  putToken(t: ApiToken): Promise<void>;
  tokenByHash(hash: string): Promise<ApiToken | null>;
  tokens(): Promise<ApiToken[]>;
  /** Removes the tokens matching every given field; how many were removed. */
  revokeTokens(match: { readonly hash?: string; readonly instanceId?: string; readonly role?: ApiToken['role'] }): Promise<number>;
}

/**
 * A dashboard session (docs/dashboard.md#sign-in), kept in the store so a restart signs nobody out and every
 * controller behind one address accepts it. The session id itself is never stored: only its SHA-256.
 */
export interface DashboardSession {
  /** Hex SHA-256 of the session id (the cookie's value). */
  readonly idHash: string;
  readonly role: 'admin' | 'viewer';
  /** Who signed in: the token's name, never the token. */
  readonly who: string;
  /** Hex SHA-256 of the token signed in with: a session lasts only while that token is still valid (not revoked). */
  readonly tokenHash: string;
  /** The session's CSRF value, handed back to the page by GET /v1/session (useless without the cookie). */
  readonly csrf: string;
  readonly expiresAt: number;
}

/** Dashboard sessions by the hash of their id. */
export interface SessionStore {
  putSession(s: DashboardSession): Promise<void>;
  /** The session of this hash while it lasts (expiresAt > now); null when unknown, signed out or expired. */
  sessionByHash(idHash: string, now: number): Promise<DashboardSession | null>;
  /** Signs out: false when there was no such session. */
  removeSession(idHash: string): Promise<boolean>;
  /** Deletes the sessions expired at `now`; how many. */
  pruneSessions(now: number): Promise<number>;
}

/** The agents' side: commands queued for them to pull, and their acknowledgements of what they applied. */
export interface AgentQueue {
  /** Commands waiting for agents to pull them (event delivery `agent`); an existing (id, instance) pair is kept. */
  queueAgentCommands(commands: readonly AgentCommand[]): Promise<void>;
  /** Commands of one instance, or with these ids, oldest first. */
  agentCommands(query: { readonly instanceId?: string; readonly ids?: readonly string[] }): Promise<AgentCommand[]>;
  /** Records an agent's result once; false when there is no such command or it already has one. */
  completeAgentCommand(id: string, instanceId: string, result: AgentCommandResult): Promise<boolean>;
  /** Marks a command to be stopped by its agent; false when there is no such command or it already has a result. */
  cancelAgentCommand(id: string, instanceId: string, at: number): Promise<boolean>;
  pruneAgentCommands(sentBefore: number): Promise<number>;
  /** An agent's report of what it has applied (the drain handshake): the last one of each instance is kept. */
  recordAgentAck(ack: AgentAck): Promise<void>;
  /** The last report of each instance of a group, by instance. */
  agentAcks(group: string): Promise<Map<string, AgentAck>>;
}

/** Window executions, and operators' requests to cancel them. */
export interface ExecutionStore {
  /** Window executions, newest first (by start of their period, then id); `before` pages on with an id. */
  executions(query: { readonly group?: string | undefined; readonly limit: number; readonly before?: string | undefined }): Promise<WindowExecution[]>;
  execution(id: string): Promise<WindowExecution | null>;
  /** Records an operator's cancel of an execution; false when one is already recorded for it (kept as it was). */
  requestCancel(r: CancelRequest): Promise<boolean>;
  /** Cancel requests of a group's executions, not yet taken by its controller. */
  cancelRequests(group: string): Promise<CancelRequest[]>;
  /** Forgets a request once its execution carries it (or has ended). */
  removeCancelRequest(execution: string): Promise<void>;
}

/** Persistent state: every role, in one place. Asynchronous by contract: the embedded SQLite store answers at once, DynamoDB does not. */
export interface Store extends LeaseStore, GroupStateStore, HistoryStore, SettingsStore, TokenStore, SessionStore, AgentQueue, ExecutionStore {
  close(): Promise<void>;
}

export type { BypassResult };

/** One event published out (events out): what EventBridge sends as an entry and a webhook as its body. */
export interface OutEvent {
  /** A stable id (the webhook's X-Fleetwarden-Event-Id; receivers deduplicate retried deliveries by it). */
  readonly id: string;
  /** EventBridge's detail-type, e.g. "Fleetwarden Instance Transition". */
  readonly detailType: string;
  readonly at: number;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** What one delivery attempt left undelivered, and whether trying those again may help. */
export interface SinkResult {
  /** Not delivered, and worth trying again (throttled, a server error, no answer). */
  readonly retry: readonly OutEvent[];
  /** Not delivered, and never will be (refused by the receiver, too large). */
  readonly rejected: readonly OutEvent[];
  /** Why the last one failed (no secret or credential in it). */
  readonly error?: string;
}

/** Where events are published (EventBridge, a webhook). One attempt per call: the app's queue retries. */
export interface EventSink {
  readonly name: string;
  publish(events: readonly OutEvent[]): Promise<SinkResult>;
}
