/**
 * The JSON the API answers with, as zod schemas: one definition for three readers. src/api/services.ts builds its
 * answers with these types, /openapi.json documents each route's answer from them (z.toJSONSchema), and the CLI's
 * API client decodes what a controller sends with them, so a controller of another version that answers another
 * shape is a clear error naming the route and the field instead of a crash further on.
 *
 * Decoding tolerates fields a schema does not name (a newer controller may add some) and drops them; test/api/wire.test.ts
 * holds each schema to every field the server sends today. States, kinds and statuses are strings (a newer
 * controller may have more of them); arrays are read-only (services build them from the store's read-only lists).
 */
import { z } from 'zod';

const list = <T extends z.ZodType>(item: T) => z.array(item).readonly();
const instant = z.string().describe('an ISO-8601 instant (UTC)');
const maybeInstant = instant.nullable();

/** Every answer that is not 2xx (and some 2xx ones never are: 204 has no body). */
export const errorBody = z.object({
  error: z.object({
    code: z.string().describe('invalid, not-found, conflict, unauthorized, forbidden, unavailable, internal, …'),
    message: z.string(),
    fields: list(z.object({ field: z.string(), reason: z.string() })).optional(),
  }),
});

export const healthJson = z.object({ status: z.literal('ok') });

// ---------------------------------------------------------------- status and history

const setting = z.object({ value: z.string(), setBy: z.string(), expiresAt: maybeInstant });

export const workloadStateJson = z.object({
  state: setting,
  killSwitch: setting,
  sequence: z.object({ direction: z.string(), since: instant, aborted: z.object({ tier: z.string(), at: instant, reason: z.string() }).nullable() }).nullable(),
});

export const statusJson = z.object({
  at: instant,
  instances: list(z.object({ group: z.string(), instance: z.string(), state: z.string(), since: instant, reason: z.string(), errorUntil: instant.optional(), agent: z.object({ ports: z.string(), health: z.string(), at: instant }).nullable() })),
  leases: list(z.object({ group: z.string(), owner: z.string().nullable(), expiresAt: maybeInstant, generation: z.number().nullable() })),
  groups: list(
    z.object({
      group: z.string(),
      workload: workloadStateJson.optional(),
      problems: list(z.object({ source: z.string(), subject: z.string(), field: z.string(), value: z.string(), reason: z.string(), since: instant })),
      lastError: z
        .object({
          at: instant,
          message: z.string(),
          // Optional only so that a client reads an older server's answer; a server always sends it.
          retryable: z.boolean().optional().describe('transient (throttling, the network, a lost lease): the next tick tries again; false: needs a person'),
        })
        .nullable(),
    }),
  ),
});

export const historyJson = z.object({
  entries: list(z.object({ id: z.number().int().optional(), at: instant, group: z.string(), instance: z.string().nullable(), type: z.string(), summary: z.string(), data: z.record(z.string(), z.unknown()).optional() })),
  next: z.number().int().nullable().describe('give it as before= for the next page'),
});

// ---------------------------------------------------------------- configuration and windows

const layerValue = z.object({ layer: z.string(), source: z.string(), value: z.string(), expiresAt: maybeInstant });

export const explainJson = z.object({
  group: z.string(),
  at: instant,
  settings: list(z.object({ key: z.string(), value: z.string(), layer: z.string(), source: z.string(), expiresAt: maybeInstant, layers: list(layerValue) })),
  activeWindows: list(z.object({ name: z.string(), start: instant, end: instant })),
  warnings: list(z.string()),
});

export const windowsJson = z.object({
  from: instant,
  to: instant,
  periods: list(z.object({ group: z.string(), window: z.string(), description: z.string().nullable(), source: z.string(), activeFrom: instant, start: instant, end: instant })),
  warnings: list(z.string()),
});

// ---------------------------------------------------------------- overrides, controls, tokens

export const overrideSetJson = z.object({ group: z.string(), key: z.string(), value: z.string(), expiresAt: instant, reason: z.string(), alsoSet: list(z.string()).optional() });
export const overridesJson = z.object({ overrides: list(z.object({ group: z.string(), key: z.string(), value: z.string(), expiresAt: instant, reason: z.string() })) });

export const controlSetJson = z.object({ instance: z.string(), kind: z.string(), until: instant, reason: z.string() });
export const controlsJson = z.object({ controls: list(controlSetJson) });

export const tokenIssuedJson = z.object({ token: z.string().describe('shown once'), id: z.string() });
export const tokensJson = z.object({ tokens: list(z.object({ id: z.string(), role: z.string(), instance: z.string().nullable(), createdAt: instant, label: z.string() })) });

// ---------------------------------------------------------------- tiered workloads

const plannedInstance = z.object({ instance: z.string(), state: z.string(), action: z.string(), why: z.string() });

export const workloadPlanJson = z.object({
  group: z.string(),
  action: z.enum(['start', 'stop']),
  at: instant,
  workload: workloadStateJson,
  plan: z.object({
    direction: z.string(),
    blocked: z.string().nullable(),
    notes: list(z.string()),
    steps: list(z.object({ sequence: z.number(), tiers: list(z.object({ name: z.string(), synchronous: z.boolean(), notes: list(z.string()), instances: list(plannedInstance) })) })),
    untiered: list(plannedInstance),
  }),
});

export const workloadActJson = workloadPlanJson.extend({ override: overrideSetJson });

// ---------------------------------------------------------------- the instance view and agent commands

export const pendingCommandJson = z.object({
  id: z.string(),
  kind: z.string(),
  event: z.string().optional(),
  args: list(z.string()),
  path: z.string().optional(),
  script: z.string().optional(),
  mayRerun: z.boolean().optional(),
  replaces: list(z.string()).optional(),
  timeoutMs: z.number(),
  sentAt: instant,
  cancel: z.literal(true).optional(),
});

export const pendingJson = z.object({ commands: list(pendingCommandJson) });

export const instanceJson = z.object({
  instance: z.string(),
  group: z.string(),
  version: z.string().describe('give it as since= to wait for a change'),
  preset: z.string(),
  state: z.string(),
  goal: z.object({ ports: z.string(), health: z.string(), version: z.string() }),
  drain: z.boolean(),
  maintenance: z.object({ outOfService: z.boolean() }),
  agent: z.object({ version: z.string(), ports: z.string(), health: z.string(), state: z.string().nullable(), at: instant, confirmsGoal: z.boolean() }).nullable(),
  since: instant,
  reason: z.string(),
  subfleet: z.string().nullable(),
  targetGroups: list(z.object({ id: z.string(), health: z.string() })),
  window: z.object({ period: z.enum(['in-window', 'out-of-window']), active: list(z.object({ name: z.string(), start: instant, end: instant })) }),
  controls: list(z.object({ kind: z.string(), until: instant, reason: z.string() })),
  pendingCommands: list(pendingCommandJson),
});

export const ackAnswerJson = z.object({ confirmsGoal: z.boolean() });
export const resultAnswerJson = z.object({ recorded: z.boolean() });

export const loginJson = z.union([
  z.object({ status: z.literal('ok'), instance: z.string(), token: z.string(), expiresAt: instant }),
  z.object({ status: z.literal('not-managed'), instance: z.string() }),
]);

/** POST /v1/auth/operator. */
export const operatorLoginJson = z.object({ role: z.enum(['admin', 'viewer']), who: z.string().describe('ROLE/SESSION (ACCOUNT)'), token: z.string().describe('send it as Authorization: Bearer; it stops working at expiresAt'), expiresAt: instant });

// ---------------------------------------------------------------- maintenance executions

const cancelRequestJson = z.object({ by: z.string(), at: instant, reason: z.string() });

const executionBase = {
  id: z.string(),
  group: z.string(),
  window: z.string(),
  description: z.string().nullable(),
  start: instant,
  end: instant,
  status: z.string(),
  startedAt: instant,
  endedAt: maybeInstant,
  cancel: cancelRequestJson.nullable(),
};

export const executionSummaryJson = z.object({
  ...executionBase,
  tasks: list(
    z.object({
      name: z.string(),
      priority: z.number(),
      status: z.string(),
      targets: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      notRun: z.number().int(),
      cancelled: z.number().int(),
      skipped: list(z.string()),
      outOfService: list(z.string()),
    }),
  ),
});

export const executionsJson = z.object({ executions: list(executionSummaryJson), next: z.string().nullable().describe('give it as before= for the next page') });

export const executionJson = z.object({
  ...executionBase,
  lastTaskStart: instant,
  tasks: list(
    z.object({
      name: z.string(),
      priority: z.number(),
      status: z.string(),
      startedAt: maybeInstant,
      endedAt: maybeInstant,
      detail: z.string(),
      targets: list(z.string()),
      notRun: list(z.string()),
      skipped: list(z.string()),
      invocations: list(
        z.object({
          instance: z.string(),
          status: z.string(),
          phase: z.string(),
          startedAt: instant,
          endedAt: maybeInstant,
          exitCode: z.number().int().nullable(),
          runs: z.number().int(),
          outOfService: z.boolean(),
          drained: z.boolean().describe('the task takes its instance out of service (a drain task): out from startedAt until endedAt, or still out'),
          step: z.string().nullable(),
          agentGoal: z.object({ ports: z.string(), health: z.string(), since: instant }).nullable(),
          detail: z.string(),
          output: z.string().nullable(),
          outputKey: z.string().nullable(),
        }),
      ),
    }),
  ),
});

export const cancelAnswerJson = z.object({ id: z.string(), status: z.string(), cancel: cancelRequestJson, message: z.string() });

// ---------------------------------------------------------------- fleetwarden plan (CLI only: no route serves it)

const problemJson = z.object({ source: z.string(), subject: z.string(), field: z.string(), value: z.string(), reason: z.string() });

/** `fleetwarden plan --json`: what the next tick would do in each group, without doing it (docs/cli.md#plan). */
export const planJson = z.object({
  at: instant.describe('the instant planned for (the simulated world\'s with the simulator)'),
  store: z.string().nullable().describe('the store read; null: none yet, planned as a first tick'),
  changes: z.boolean().describe('some group has a command, a transition or a maintenance step: exit code 3'),
  groups: list(
    z.object({
      group: z.string(),
      lease: z.object({ owner: z.string(), expiresAt: instant }).nullable().describe('the controller holding the group (the one that would act), if any'),
      commands: list(
        z.object({
          kind: z.string().describe('start, stop, deregister, register, run-event, check-bypass'),
          instances: list(z.string()),
          reason: z.string(),
          targetGroup: z.string().optional(),
          event: z.string().optional(),
          force: z.boolean().optional(),
        }),
      ),
      transitions: list(z.object({ instance: z.string(), from: z.string(), to: z.string(), reason: z.string() })),
      maintenance: list(z.object({ instance: z.string().nullable(), message: z.string() })),
      windows: z.object({ entered: list(z.string()), exited: list(z.string()) }),
      problems: list(problemJson.extend({ since: instant, new: z.boolean() })).describe('input left alone: every problem now, new ones flagged'),
      problemsCleared: list(problemJson),
      retries: list(z.string()).describe('calls throttled and retried while planning'),
      error: z.string().nullable().describe('the group could not be planned (exit code 1); its other fields are empty'),
    }),
  ),
});

/** The answer of a route that answers 204 (no body): the client reads it as null. */
export const noContent = z.null();

export type StatusJson = z.infer<typeof statusJson>;
export type HistoryJson = z.infer<typeof historyJson>;
export type ExplainJson = z.infer<typeof explainJson>;
export type WindowsJson = z.infer<typeof windowsJson>;
export type OverrideSetJson = z.infer<typeof overrideSetJson>;
export type OverridesJson = z.infer<typeof overridesJson>;
export type ControlSetJson = z.infer<typeof controlSetJson>;
export type ControlsJson = z.infer<typeof controlsJson>;
export type TokenIssuedJson = z.infer<typeof tokenIssuedJson>;
export type TokensJson = z.infer<typeof tokensJson>;
export type WorkloadStateJson = z.infer<typeof workloadStateJson>;
export type WorkloadPlanJson = z.infer<typeof workloadPlanJson>;
export type WorkloadActJson = z.infer<typeof workloadActJson>;
export type PendingCommandJson = z.infer<typeof pendingCommandJson>;
export type PendingJson = z.infer<typeof pendingJson>;
export type InstanceJson = z.infer<typeof instanceJson>;
export type ExecutionSummaryJson = z.infer<typeof executionSummaryJson>;
export type ExecutionsJson = z.infer<typeof executionsJson>;
export type ExecutionJson = z.infer<typeof executionJson>;
export type CancelAnswerJson = z.infer<typeof cancelAnswerJson>;
export type PlanJson = z.infer<typeof planJson>;
