/**
 * The shapes the stores keep, as zod schemas: stored data is decoded with them when read, never cast. A row that
 * does not decode (written by hand, by a broken release, or damaged) is a `StoredDataError` naming the row and the
 * field, raised by the store that read it — not a crash deep in the planner.
 *
 * Each schema is annotated with the TypeScript interface it decodes (`z.ZodType<InstanceRecord>`), and `fields<T>()`
 * requires its shape to name exactly the interface's fields: a field added to, removed from or retyped in an
 * interface fails to compile here until the schema follows. Objects are loose: a field this release does not know
 * (written by a newer one) is kept as it was, not dropped.
 */
import { z } from 'zod';
import { ACK_HEALTH, ACK_PORTS, type AgentAck } from '../domain/agent-ack.js';
import { FleetwardenError } from '../domain/errors.js';
import { LIFECYCLE_STATES } from '../domain/lifecycle.js';
import { EVENT_NAMES, type EventRecord, type InstanceRecord, type WorkloadRecord } from '../domain/model.js';
import { PROBLEM_SOURCES, type ReportedProblem } from '../domain/problems.js';
import { INVOCATION_STATUSES } from '../maintenance/dispatch.js';
import { EXECUTION_STATUSES, PHASES, STEPS, type CancelRequest, type Invocation, type TaskExecution, type WindowExecution } from '../maintenance/model.js';
import type { ActionFailure } from '../planner/types.js';
import { AGENT_OUTCOMES, HISTORY_TYPES, type AgentCommand, type AgentCommandResult, type CommandHandle, type HistoryEntry } from './index.js';

/** Stored data that does not decode: `where` names the table (or item) and key, `field` the path inside it. */
export class StoredDataError extends FleetwardenError {
  override readonly name: string = 'StoredDataError';
  readonly where: string;
  readonly field: string;

  constructor(where: string, field: string, reason: string, options: { cause?: unknown } = {}) {
    super(`stored data ${where}${field === '' || field.startsWith('[') ? field : `.${field}`}: ${reason}`, { ...options, context: { where, field } });
    this.where = where;
    this.field = field;
  }
}

/** A shape naming exactly the fields of `T` (each with some schema): the compile-time tie to the interface. */
function fields<T>() {
  return <S extends { readonly [K in keyof T]-?: z.ZodType }>(shape: S & { readonly [K in Exclude<keyof S, keyof T>]: never }): S => shape;
}

const num = z.number();
const str = z.string();
const strings = z.array(str);
const eventName = z.enum(EVENT_NAMES);

export const lifecycleState = z.enum(LIFECYCLE_STATES, { error: (iss) => `unknown lifecycle state ${JSON.stringify(iss.input)}; expected one of ${LIFECYCLE_STATES.join(', ')}` });

const eventRecord: z.ZodType<EventRecord> = z.looseObject(
  fields<EventRecord>()({ status: z.enum(['sent', 'success', 'failed']), firstSentAt: num, lastSentAt: num, attempts: num, args: strings.exactOptional(), detail: str.exactOptional() }),
);

const period = z.enum(['in-window', 'out-of-window']);

export const instanceRecordSchema: z.ZodType<InstanceRecord> = z.looseObject(
  fields<InstanceRecord>()({
    instanceId: str,
    group: str,
    state: lifecycleState,
    since: num,
    reason: str,
    errorUntil: num.optional(),
    lastError: str.optional(),
    drainCause: z.enum(['scale-in', 'subfleet-stopped', 'tier-stop', 'issue', 'unuseable', 'manual']).optional(),
    issueSince: num.optional(),
    issue: str.optional(),
    notifiedPeriod: period.optional(),
    periodNotice: z.looseObject({ type: period, since: num }).optional(),
    events: z.partialRecord(eventName, eventRecord).optional(),
    bypass: z.looseObject({ result: z.enum(['present', 'absent', 'unknown']), at: num }).optional(),
    bypassCheckSentAt: num.optional(),
    deregisteredFrom: strings.optional(),
    stopSentAt: num.optional(),
    forcedStop: z.boolean().optional(),
    tier: str.optional(),
  }),
);

export const workloadRecordSchema: z.ZodType<WorkloadRecord> = z.looseObject(
  fields<WorkloadRecord>()({
    group: str,
    direction: z.enum(['start', 'stop']).nullable(),
    since: num,
    tierStartedAt: z.record(str, num),
    abortedAt: z.looseObject({ tier: str, at: num, reason: str, request: str.exactOptional() }).exactOptional(),
  }),
);

export const commandHandleSchema: z.ZodType<CommandHandle> = z.looseObject(
  fields<CommandHandle>()({ id: str, kind: z.enum(['event', 'bypass', 'script']), group: str, instanceIds: strings, event: eventName.exactOptional(), sentAt: num, ref: str.exactOptional() }),
);

export const actionFailureSchema: z.ZodType<ActionFailure> = z.looseObject(fields<ActionFailure>()({ instanceId: str, action: z.enum(['start', 'stop']), at: num, detail: str }));

export const reportedProblemSchema: z.ZodType<ReportedProblem> = z.looseObject(fields<ReportedProblem>()({ source: z.enum(PROBLEM_SOURCES), subject: str, field: str, value: str, reason: str, since: num }));

export const cancelRequestSchema: z.ZodType<CancelRequest> = z.looseObject(fields<CancelRequest>()({ execution: str, group: str, by: str, reason: str, at: num }));

export const agentAckSchema: z.ZodType<AgentAck> = z.looseObject(
  fields<AgentAck>()({ instanceId: str, group: str, version: str, ports: z.enum(ACK_PORTS), health: z.enum(ACK_HEALTH), state: str.nullable(), hooks: z.array(z.looseObject({ name: str, outcome: str })).exactOptional(), at: num }),
);

/** Executions stored before one spelling was chosen wrote invocation statuses in lower case (`in-progress`): read in SSM's. */
const invocationStatus = z.preprocess((v) => (typeof v === 'string' && /^[a-z-]+$/.test(v) ? v.toUpperCase().replace(/-/g, '_') : v), z.enum(INVOCATION_STATUSES));

const invocation: z.ZodType<Invocation> = z.looseObject(
  fields<Invocation>()({
    target: str,
    status: invocationStatus,
    phase: z.enum(PHASES),
    phaseSince: num,
    startedAt: num,
    endedAt: num.exactOptional(),
    runs: num,
    pending: z.looseObject({ id: str, kind: z.enum(['task', 'health', 'probe']), sentAt: num, unsent: z.boolean().exactOptional() }).optional(),
    exitCode: num.nullable().exactOptional(),
    output: str.exactOptional(),
    outputKey: str.exactOptional(),
    deregisteredFrom: strings.exactOptional(),
    outOfService: z.boolean(),
    healthChecks: num.exactOptional(),
    cancelSentAt: num.exactOptional(),
    agent: z.looseObject({ ports: z.enum(['blocked', 'open']), health: z.enum(['pass', 'fail']), since: num }).exactOptional(),
    step: z.enum(STEPS).optional(),
    confirmedAt: num.optional(),
    detail: str,
  }),
);

const taskExecution: z.ZodType<TaskExecution> = z.looseObject(
  fields<TaskExecution>()({
    name: str,
    priority: num,
    status: z.enum(['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED', 'TIMED_OUT', 'CANCELLED']),
    startedAt: num.exactOptional(),
    endedAt: num.exactOptional(),
    targets: strings,
    invocations: z.array(invocation),
    terminated: strings,
    skipped: strings.exactOptional(),
    detail: str,
  }),
);

export const windowExecutionSchema: z.ZodType<WindowExecution> = z.looseObject(
  fields<WindowExecution>()({
    id: str,
    group: str,
    window: str,
    description: str.exactOptional(),
    start: num,
    end: num,
    lastTaskStart: num,
    status: z.enum(EXECUTION_STATUSES),
    startedAt: num,
    endedAt: num.exactOptional(),
    cancel: cancelRequestSchema.exactOptional(),
    tasks: z.array(taskExecution),
  }),
);


/** A history entry's `data` (stored as JSON beside the entry's columns or attributes). */
export const historyDataSchema = z.record(str, z.unknown());

export const historyEntrySchema: z.ZodType<HistoryEntry> = z.looseObject(
  fields<HistoryEntry>()({ id: num.exactOptional(), at: num, group: str, instanceId: str.nullable(), type: z.enum(HISTORY_TYPES), summary: str, data: historyDataSchema.exactOptional() }),
);

export const agentCommandResultSchema: z.ZodType<AgentCommandResult> = z.looseObject(
  fields<AgentCommandResult>()({ at: num, outcome: z.enum(AGENT_OUTCOMES), exitCode: num.nullable(), output: str, reboots: num.exactOptional() }),
);

export const agentCommandSchema: z.ZodType<AgentCommand> = z.looseObject(
  fields<AgentCommand>()({
    id: str,
    instanceId: str,
    group: str,
    kind: z.enum(['event', 'bypass', 'script']),
    event: eventName.exactOptional(),
    args: strings,
    path: str.exactOptional(),
    script: str.exactOptional(),
    mayRerun: z.boolean().exactOptional(),
    timeoutMs: num,
    sentAt: num,
    cancelRequestedAt: num.exactOptional(),
    replaces: strings.exactOptional(),
    result: agentCommandResultSchema.exactOptional(),
  }),
);

/** `value` decoded by `schema`, or a StoredDataError naming `where` and the first field that does not fit. */
export function decodeStored<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = (issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : '';
  throw new StoredDataError(where, field, `${issue?.message ?? 'does not decode'}${more}`);
}

/** `text` parsed as JSON and decoded by `schema` (see decodeStored). */
export function decodeStoredJson<T>(schema: z.ZodType<T>, text: string, where: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new StoredDataError(where, '', `not JSON (${(err as Error).message})`, { cause: err });
  }
  return decodeStored(schema, value, where);
}
