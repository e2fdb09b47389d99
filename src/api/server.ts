/**
 * The controller's HTTP API (served by `fleetwarden run --listen`). One route table drives both the dispatcher and
 * the OpenAPI document, so the document cannot drift from what is served. Every route but /healthz and /v1/auth/iam
 * (how an agent gets one) needs a bearer token: the admin token, or an agent token limited to its own instance.
 * Tokens are compared by SHA-256 and never logged; a bad request changes nothing and says which field is wrong.
 * The dashboard (docs/dashboard.md) is served at / from the built bundle on disk; a browser signs in at
 * /v1/session for a session cookie (src/api/sessions.ts), and its writes need the session's CSRF header.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import type { FleetConfig } from '../config/config.js';
import type { SsmWindowInfo } from '../config/ssm-windows.js';
import { type ErrorKind, errorKind, FleetwardenError, ValidationError, ValidationErrors } from '../domain/errors.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { type ApiToken, type Clock, HISTORY_TYPES, type ObjectStore, type Store } from '../ports/index.js';
import { iamLogin, type IamLoginDeps, labelExpiry, LoginRefused, loginBody, loginTokenExpiry, operatorLogin, type OperatorLoginDeps } from './iam-login.js';
import { type ChangeFeed, longPoll } from './changes.js';
import { cookieValue, CSRF_HEADER, csrfMatches, type Session, SESSION_COOKIE, sessionCookie, Sessions } from './sessions.js';
import { serveUi } from './ui.js';
import * as svc from './services.js';
import * as wire from './wire.js';

/** Counters the run loop keeps, exported by /metrics. */
export interface RunStats {
  ticks: number;
  tickErrors: number;
  lastTickSeconds: number;
  lastTickAt: number | null;
}

export interface ApiDeps {
  readonly store: Store;
  readonly config: FleetConfig;
  readonly clock: Clock;
  readonly live: svc.LiveView | null;
  /** SHA-256 of FLEETWARDEN_ADMIN_TOKEN when set (admin tokens in the store are accepted too). */
  readonly adminTokenHash?: string | null;
  readonly stats?: RunStats;
  /** SSM windows for /v1/windows (the simulator's, or none). */
  readonly ssmWindows?: () => Promise<SsmWindowInfo[]>;
  /** Called once per request with its method, path, status and duration (never headers or the query). */
  readonly log?: (entry: RequestLog) => void;
  /** Agents' IAM-role login (controller.agentIam); absent: POST /v1/auth/iam answers 404. */
  readonly agentIam?: IamLoginDeps;
  /** Operators' IAM login (controller.operatorIam); absent: POST /v1/auth/operator answers 404. */
  readonly operatorIam?: OperatorLoginDeps;
  /** Wakes agents' long polls; the controller notifies it after each tick (absent: long polls look every second). */
  readonly changes?: ChangeFeed;
  /** An agent's report changed what it applies: the controller may tick at once instead of at its next interval. */
  readonly onAgentChange?: () => void;
  /** The controller's metrics registry (tick and provider-call histograms, process metrics), served by /metrics. */
  readonly metrics?: Registry;
  /** This server's own metrics: set by createApiServer. */
  readonly apiMetrics?: ApiMetrics;
  /** Dashboard sessions: created by createApiServer on the store when not given. */
  readonly sessions?: Sessions;
  /** Where full task output is kept (the controller's object store); absent: output routes answer 404. */
  readonly objects?: ObjectStore | null;
  /** Where the dashboard's built files are (default: dist/ui beside this module); null: no dashboard. */
  readonly uiDir?: string | null;
  /**
   * Long polls without a change feed (the API on Lambda): `wait` is cut to `maxWaitS`, and the store is looked at
   * every `lookEveryMs` [60 s; 1 s].
   */
  readonly longPoll?: { readonly maxWaitS: number; readonly lookEveryMs: number };
}

export interface RequestLog {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  /** An internal error's stack (5xx only). */
  readonly error?: string;
}

/** One HTTP request, whatever carried it (node:http, a Lambda function URL). Header names are lower-case. */
export interface ApiRequest {
  readonly method: string;
  /** The path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Whether the client reached us over HTTPS: the session cookie is Secure then, and the Origin check uses it. */
  readonly secure: boolean;
  /** This API's own host as the platform vouches for it (a function URL's domain, from AWS), not as the client says. */
  readonly ownHost?: string;
  /** The body; more than `limit` bytes throws bodyTooLarge(limit). */
  readonly body: (limit: number) => Promise<Buffer>;
}

/** The API's answer, for the transport to send. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer | undefined;
}

/**
 * Who calls: the admin or a viewer (named by its token, for the history: never the token itself; `sessionId` when
 * through a dashboard session cookie) or one instance's agent.
 */
type Caller = { readonly role: 'admin' | 'viewer'; readonly who: string; readonly sessionId?: string } | { readonly role: 'agent'; readonly instanceId: string };

interface Request {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly caller: Caller;
  readonly now: number;
  /** Whether the client reached us over HTTPS (directly, or per X-Forwarded-Proto): the cookie is Secure then. */
  readonly secure: boolean;
  readonly ownHost: string | undefined;
}

interface Route {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly summary: string;
  /**
   * `agent`: an agent token may call it for its own `{instance}`; `admin`: the admin token only; `read`: the admin
   * or a viewer (reads only); `none`: open.
   */
  readonly auth: 'none' | 'agent' | 'read' | 'admin';
  readonly query?: readonly { readonly name: string; readonly description: string }[];
  readonly body?: z.ZodType;
  /**
   * Its success answer, documented in /openapi.json: the JSON's schema (src/api/wire.ts; the CLI decodes with the
   * same), `text` (not JSON), or `none` (204, no body). A test holds every route to one.
   */
  readonly response: z.ZodType | 'text' | 'none';
  /** Its success status when not 200 (201 Created). */
  readonly okStatus?: 201;
  /** Answers beyond 200/400/401/403, for the OpenAPI document. */
  readonly responses?: Readonly<Record<string, string>>;
  readonly handle: (req: Request, deps: ApiDeps) => Promise<{ status?: number; json?: unknown; text?: string; headers?: Record<string, string> }>;
}

/** An answer the API decides itself (routing, authentication, body size): its HTTP status is its own. */
class HttpError extends FleetwardenError {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message, {}, status === 404 ? 'not-found' : status === 429 || status >= 500 ? 'retryable' : status >= 400 ? 'invalid-input' : 'terminal');
    this.status = status;
    this.code = code;
  }
}

/** A refused login as the API's answer; anything else unchanged. */
function loginHttpError(err: unknown): unknown {
  if (!(err instanceof LoginRefused)) return err;
  const code = err.status === 401 ? 'unauthorized' : err.status === 403 ? 'forbidden' : err.status === 400 ? 'invalid' : err.status === 404 ? 'not-found' : 'unavailable';
  return new HttpError(err.status, code, err.message);
}

/** The most of one invocation's output the API serves (the object store keeps all of it). */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/** Error kinds → HTTP statuses: the one place the API maps them (domain/errors.ts says what each kind means). */
const STATUS_OF: Readonly<Record<ErrorKind, number>> = { 'invalid-input': 400, 'not-found': 404, conflict: 409, retryable: 503, terminal: 500 };
/** What a 503 asks the client to wait before trying again. */
const RETRY_AFTER_S = 5;

interface ErrorAnswer {
  readonly status: number;
  readonly json: { error: { code: string; message: string; fields?: { field: string; reason: string }[] } };
  readonly headers: Record<string, string>;
  /** For the request log: the failure the client is not shown. */
  readonly logged?: string;
}

/** The answer to a request that failed: decided on the error's kind alone (HttpError keeps its own status). */
function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof HttpError) return { status: err.status, json: { error: { code: err.code, message: err.message } }, headers: err.status === 401 ? { 'www-authenticate': 'Bearer' } : {} };
  const kind = errorKind(err);
  const status = STATUS_OF[kind];
  const message = err instanceof Error ? err.message : String(err);
  const issues = err instanceof ValidationErrors ? err.issues : err instanceof ValidationError ? [err] : [];
  const fields = issues.length === 0 ? {} : { fields: issues.map((i) => ({ field: i.field, reason: i.reason })) };
  switch (kind) {
    case 'invalid-input':
      return { status, json: { error: { code: 'invalid', message, ...fields } }, headers: {} };
    case 'not-found':
      return { status, json: { error: { code: 'not-found', message } }, headers: {} };
    case 'conflict':
      return { status, json: { error: { code: 'conflict', message, ...fields } }, headers: {} };
    case 'retryable':
      return { status, json: { error: { code: 'unavailable', message: `temporarily unavailable; try again in ${RETRY_AFTER_S} s` } }, headers: { 'retry-after': String(RETRY_AFTER_S) }, logged: message };
    case 'terminal':
      // Internals (and whatever a library put in a message) stay in the controller's log.
      return { status, json: { error: { code: 'internal', message: 'internal error; see the controller log' } }, headers: {}, logged: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new ValidationError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** A long poll's `wait` (0-60 s), cut to what this deployment holds a request for. */
function waitParam(q: URLSearchParams, deps: ApiDeps): number {
  return Math.min(intParam(q, 'wait', 0, 60) ?? 0, deps.longPoll?.maxWaitS ?? 60);
}

function strParam(q: URLSearchParams, name: string): string | undefined {
  return q.get(name) ?? undefined;
}

const tokenBody = z.strictObject({ instance: z.string(), label: z.string().max(200).optional() });
const sessionBody = z.strictObject({ token: z.string().min(1).max(1000) });
const changesJson = z.object({ version: z.string().describe('give it as since= to wait for the next change') });
const sessionJson = z.object({ role: z.enum(['admin', 'viewer']), who: z.string(), expiresAt: z.string().nullable(), csrf: z.string().nullable().describe('send it as X-Fleetwarden-CSRF with every write through the session cookie') });

const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/healthz', summary: 'liveness: 200 while the process serves', auth: 'none', response: wire.healthJson, handle: () => Promise.resolve({ json: { status: 'ok' } }) },
  { method: 'GET', path: '/openapi.json', summary: 'this document', auth: 'admin', response: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }), handle: () => Promise.resolve({ json: openApi() }) },
  { method: 'GET', path: '/metrics', summary: 'Prometheus metrics', auth: 'admin', response: 'text', handle: async (_req, deps) => ({ text: await (deps.apiMetrics as ApiMetrics).text(deps.metrics) }) },
  {
    method: 'GET',
    path: '/v1/status',
    summary: 'every managed instance with its lifecycle state, and who holds each group’s lease',
    auth: 'read',
    response: wire.statusJson,
    query: [{ name: 'group', description: 'only this group' }],
    handle: async (req, d) => ({ json: await svc.statusView(d.store, d.config, req.now, strParam(req.query, 'group'), d.live) }),
  },
  {
    method: 'GET',
    path: '/v1/history',
    summary: 'the history, newest first; page on with before=<next>',
    auth: 'read',
    response: wire.historyJson,
    query: [
      { name: 'group', description: 'only this group' },
      { name: 'instance', description: 'only this instance' },
      { name: 'type', description: `only these types (repeat it, or separate with commas): ${HISTORY_TYPES.join(', ')}` },
      { name: 'from', description: 'only entries at or after this ISO instant' },
      { name: 'to', description: 'only entries before this ISO instant' },
      { name: 'limit', description: 'entries per page, 1-1000 [50]' },
      { name: 'before', description: 'entries older than this id (the previous page’s next)' },
    ],
    handle: async (req, d) => {
      const instance = strParam(req.query, 'instance');
      if (instance !== undefined) svc.checkInstanceId(instance, 'instance');
      const filters = svc.historyFilters({ types: req.query.getAll('type'), from: strParam(req.query, 'from'), to: strParam(req.query, 'to') }, { type: 'type', from: 'from', to: 'to' });
      return { json: await svc.historyView(d.store, { group: strParam(req.query, 'group'), instanceId: instance, ...filters, before: intParam(req.query, 'before', 1, Number.MAX_SAFE_INTEGER), limit: intParam(req.query, 'limit', 1, 1000) ?? 50 }) };
    },
  },
  {
    method: 'GET',
    path: '/v1/groups/{group}/config',
    summary: 'the effective configuration with every layer (default < file < store < schedule < window < override)',
    auth: 'read',
    response: wire.explainJson,
    query: [
      { name: 'key', description: 'one setting' },
      { name: 'at', description: 'evaluate at this ISO instant [now]' },
    ],
    handle: async (req, d) => {
      const at = strParam(req.query, 'at');
      return { json: await svc.explainView(d.store, d.config, req.params['group'] ?? '', at === undefined ? req.now : parseInstant(at, 'at'), strParam(req.query, 'key'), d.ssmWindows ? await d.ssmWindows() : []) };
    },
  },
  {
    method: 'GET',
    path: '/v1/windows',
    summary: 'upcoming maintenance-window periods',
    auth: 'read',
    response: wire.windowsJson,
    query: [
      { name: 'group', description: 'only this group' },
      { name: 'from', description: 'ISO instant [now]' },
      { name: 'days', description: 'how many days, 1-366 [7]' },
    ],
    handle: async (req, d) => {
      const fromRaw = strParam(req.query, 'from');
      const from = fromRaw === undefined ? req.now : parseInstant(fromRaw, 'from');
      const days = intParam(req.query, 'days', 1, 366) ?? 7;
      return { json: svc.windowsView(d.config, from, from + days * 86_400_000, strParam(req.query, 'group'), d.ssmWindows ? await d.ssmWindows() : []) };
    },
  },
  { method: 'GET', path: '/v1/overrides', summary: 'run-time overrides in force', auth: 'read', response: wire.overridesJson, handle: async (req, d) => ({ json: await svc.overridesView(d.store, req.now) }) },
  {
    method: 'PUT',
    path: '/v1/groups/{group}/overrides/{key}',
    summary: 'set a run-time override of a setting for a time, with a reason',
    auth: 'admin',
    response: wire.overrideSetJson,
    body: svc.overrideBody,
    handle: async (req, d) => ({ json: await svc.setOverride(d.store, d.config, req.params['group'] ?? '', req.params['key'] ?? '', req.body, req.now) }),
  },
  {
    method: 'DELETE',
    path: '/v1/groups/{group}/overrides/{key}',
    summary: 'remove an override',
    auth: 'admin',
    response: 'none',
    handle: async (req, d) => {
      if (!(await svc.removeOverride(d.store, d.config, req.params['group'] ?? '', req.params['key'] ?? ''))) throw new HttpError(404, 'not-found', 'no such override');
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/v1/groups/{group}/workload/{action}',
    summary: 'the ordered plan of starting or stopping a tiered workload (action: start or stop), changing nothing: tier by tier, the instances acted on, those bypassed and why',
    auth: 'read',
    response: wire.workloadPlanJson,
    handle: async (req, d) => ({ json: await svc.workloadPlanView(d.store, d.config, req.params['group'] ?? '', req.params['action'] ?? '', req.now) }),
  },
  {
    method: 'POST',
    path: '/v1/groups/{group}/workload/{action}',
    summary: 'start or stop a tiered workload now (action: start or stop): an override of workload.state for a time, with a reason; answers with the plan',
    auth: 'admin',
    response: wire.workloadActJson,
    body: svc.workloadBody,
    handle: async (req, d) => ({ json: await svc.workloadAct(d.store, d.config, req.params['group'] ?? '', req.params['action'] ?? '', req.body, req.now) }),
  },
  { method: 'GET', path: '/v1/controls', summary: 'instance controls in force (unstoppable, unstartable, excluded)', auth: 'read', response: wire.controlsJson, handle: async (req, d) => ({ json: await svc.controlsView(d.store, req.now) }) },
  {
    method: 'PUT',
    path: '/v1/instances/{instance}/controls/{kind}',
    summary: 'make an instance unstoppable, unstartable or excluded for a time, with a reason',
    auth: 'admin',
    response: wire.controlSetJson,
    body: svc.controlBody,
    handle: async (req, d) => ({ json: await svc.setControl(d.store, req.params['instance'] ?? '', req.params['kind'] ?? '', req.body, req.now) }),
  },
  {
    method: 'DELETE',
    path: '/v1/instances/{instance}/controls/{kind}',
    summary: 'lift a control',
    auth: 'admin',
    response: 'none',
    handle: async (req, d) => {
      const kind = svc.checkControlKind(req.params['kind'] ?? '', 'kind');
      if (!(await d.store.removeControl(svc.checkInstanceId(req.params['instance'] ?? '', 'instance'), kind))) throw new HttpError(404, 'not-found', 'no such control');
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/v1/instances/{instance}',
    summary: 'the instance view agents poll: state, goal (ports, health), group, subfleet, target groups, window period, pending commands, its agent’s last report; with wait and since, a long poll',
    auth: 'agent',
    response: wire.instanceJson,
    query: [
      { name: 'wait', description: 'seconds, 0-60: answer when the view’s version differs from since, or after this long [0]' },
      { name: 'since', description: 'the version of the view the agent has' },
    ],
    handle: async (req, d) => {
      const wait = waitParam(req.query, d);
      const instance = req.params['instance'] ?? '';
      // A long poll re-reads the view with the time of each look (the controller's clock), after the first look only
      // the instance's group.
      let group: string | undefined;
      const look = async (): Promise<{ version: string } | null> => {
        const v = await svc.instanceView(d.store, d.config, instance, d.clock.now(), d.live, group);
        group = v?.group;
        return v;
      };
      const view = (await longPoll(look, strParam(req.query, 'since'), wait * 1000, d.changes, d.longPoll?.lookEveryMs)) as unknown;
      if (view === null) throw new HttpError(404, 'not-found', `instance ${req.params['instance'] ?? ''} is not managed`);
      return { json: view };
    },
  },
  {
    method: 'POST',
    path: '/v1/instances/{instance}/ack',
    summary: 'the agent’s report of what it has applied: the goal version it acted on, ports (blocked, open, none, stand-aside), health (pass, fail, none), its state; answers whether it meets the current goal',
    auth: 'agent',
    response: wire.ackAnswerJson,
    body: svc.ackBody,
    handle: async (req, d) => {
      const out = await svc.postAck(d.store, d.config, req.params['instance'] ?? '', req.body, req.now);
      if (!out.recorded) throw new HttpError(404, 'not-found', `instance ${req.params['instance'] ?? ''} is not managed`);
      if (out.changed) d.onAgentChange?.();
      return { json: { confirmsGoal: out.confirmsGoal } };
    },
  },
  {
    method: 'GET',
    path: '/v1/instances/{instance}/commands',
    summary: 'commands waiting for the agent (event delivery: agent)',
    auth: 'agent',
    response: wire.pendingJson,
    handle: async (req, d) => ({ json: await svc.pendingView(d.store, req.params['instance'] ?? '', req.now) }),
  },
  {
    method: 'POST',
    path: '/v1/instances/{instance}/commands/{command}/result',
    summary: 'the agent’s result of a command (recorded once)',
    auth: 'agent',
    response: wire.resultAnswerJson,
    body: svc.resultBody,
    handle: async (req, d) => ({ json: await svc.postResult(d.store, req.params['instance'] ?? '', req.params['command'] ?? '', req.body, req.now) }),
  },
  {
    method: 'GET',
    path: '/v1/executions',
    summary: 'maintenance window executions, newest first, with their tasks’ outcomes',
    auth: 'read',
    response: wire.executionsJson,
    query: [
      { name: 'group', description: 'only this group' },
      { name: 'limit', description: 'per page, 1-500 [20]' },
      { name: 'before', description: 'executions older than this id (the previous page’s next)' },
    ],
    handle: async (req, d) => ({ json: await svc.executionsView(d.store, { group: strParam(req.query, 'group'), limit: intParam(req.query, 'limit', 1, 500) ?? 20, before: strParam(req.query, 'before') }) }),
  },
  {
    method: 'GET',
    path: '/v1/executions/{id}',
    summary: 'one execution: tasks and invocations with statuses, times, exit codes, output and output key (id URL-encoded)',
    auth: 'read',
    response: wire.executionJson,
    handle: async (req, d) => {
      const view = await svc.executionView(d.store, req.params['id'] ?? '');
      if (view === null) throw new HttpError(404, 'not-found', `no execution ${req.params['id'] ?? ''}`);
      return { json: view };
    },
  },
  {
    method: 'GET',
    path: '/v1/executions/{id}/tasks/{task}/invocations/{instance}/output',
    summary: `one invocation's full output, from the object store (text/plain; at most the last ${MAX_OUTPUT_BYTES} bytes, X-Fleetwarden-Truncated giving the full size when cut)`,
    auth: 'read',
    response: 'text',
    responses: { '404': 'no such execution, task, invocation or full output (named in the message)' },
    handle: async (req, d) => {
      const out = await svc.invocationOutput(d.store, d.objects ?? null, req.params['id'] ?? '', req.params['task'] ?? '', req.params['instance'] ?? '');
      if ('missing' in out) throw new HttpError(404, 'not-found', out.missing);
      const text = out.text;
      const bytes = Buffer.from(text, 'utf8');
      // The end of a task's output says how it ended: a cut keeps the last bytes (at a character boundary).
      const cut = bytes.length > MAX_OUTPUT_BYTES ? bytes.subarray(bytes.length - MAX_OUTPUT_BYTES).toString('utf8').replace(/^\uFFFD+/, '') : text;
      return { text: cut, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; sandbox", 'cache-control': 'no-store', ...(cut === text ? {} : { 'x-fleetwarden-truncated': String(bytes.length) }) } };
    },
  },
  {
    method: 'POST',
    path: '/v1/executions/{id}/cancel',
    summary: 'cancel a running execution: running scripts cancelled, nothing new started, drained instances put back; body {"reason": "…"}; 202, 200 when already requested, 409 when it has ended',
    auth: 'admin',
    response: wire.cancelAnswerJson,
    body: svc.cancelBody,
    responses: { '202': 'cancel requested', '404': 'no such execution', '409': 'the execution has ended: nothing to cancel' },
    handle: async (req, d) => {
      const by = req.caller.role === 'admin' ? `api ${req.caller.who}` : 'api';
      const out = await svc.cancelExecution(d.store, req.params['id'] ?? '', req.body, by, req.now);
      if (out === null) throw new HttpError(404, 'not-found', `no execution ${req.params['id'] ?? ''}`);
      return out;
    },
  },
  {
    method: 'POST',
    path: '/v1/auth/iam',
    summary: 'an agent logs in with its instance’s IAM role: a signed sts:GetCallerIdentity request → a short-lived agent token for that instance, or "not-managed"',
    auth: 'none',
    response: wire.loginJson,
    body: loginBody,
    handle: async (req, d) => {
      if (d.agentIam === undefined) throw new HttpError(404, 'not-found', 'IAM login is not enabled on this controller (controller.agentIam)');
      try {
        return { json: await iamLogin(d.store, d.agentIam, req.body, req.now, req.ownHost) };
      } catch (err) {
        throw loginHttpError(err);
      }
    },
  },
  {
    method: 'POST',
    path: '/v1/auth/operator',
    summary: 'an operator logs in with their IAM role (`fleetwarden --iam`): a signed sts:GetCallerIdentity request → a short-lived admin or viewer token, by the role (controller.operatorIam)',
    auth: 'none',
    response: wire.operatorLoginJson,
    body: loginBody,
    responses: { '401': 'refused: replayed, out of date, signed for another server, or STS refused it', '403': 'the account or role may not log in', '404': 'operator login is not enabled here', '429': 'too many logins at once' },
    handle: async (req, d) => {
      if (d.operatorIam === undefined) throw new HttpError(404, 'not-found', 'operator IAM login is not enabled on this controller (controller.operatorIam)');
      try {
        return { json: await operatorLogin(d.store, d.operatorIam, req.body, req.now, req.ownHost), headers: { 'cache-control': 'no-store' } };
      } catch (err) {
        throw loginHttpError(err);
      }
    },
  },
  {
    method: 'GET',
    path: '/v1/changes',
    summary: 'a long poll for the dashboard: answers {version} at once, or, with since and wait, when something newer is in the history or the overrides and controls in force changed (or after wait seconds)',
    auth: 'read',
    response: changesJson,
    query: [
      { name: 'wait', description: 'seconds, 0-60: answer when the version differs from since, or after this long [0]' },
      { name: 'since', description: 'the version the page has' },
    ],
    handle: async (req, d) => {
      const wait = waitParam(req.query, d);
      // The newest history entry (transitions, commands, windows, overrides, …) and what is in force now.
      const look = async (): Promise<{ version: string }> => {
        const now = d.clock.now();
        const [newest] = await d.store.history({ limit: 1 });
        const head = newest === undefined ? '0' : String(newest.id ?? `${newest.at}:${newest.group}:${newest.type}`);
        return { version: `${head}.${(await d.store.overrides(now)).length}.${(await d.store.controls(now)).length}` };
      };
      return { json: await longPoll(look, strParam(req.query, 'since'), wait * 1000, d.changes, d.longPoll?.lookEveryMs) };
    },
  },
  {
    method: 'POST',
    path: '/v1/session',
    summary: 'dashboard sign-in: the admin or a viewer token → an HttpOnly, SameSite=Strict session cookie (the token is not kept) and the CSRF value for writes',
    auth: 'none',
    response: sessionJson,
    body: sessionBody,
    handle: async (req, d) => {
      const b = svc.parseBody(sessionBody, req.body);
      const caller = await callerOfToken(b.token, d, req.now);
      if (caller.role === 'agent') throw new HttpError(403, 'forbidden', 'an agent token cannot sign in to the dashboard');
      // A session opened with an expiring token (an IAM login's) ends with it.
      const { id, session } = await (d.sessions as Sessions).create(caller.role, caller.who, svc.hashToken(b.token), req.now, loginTokenExpiry(b.token));
      const maxAge = Math.floor((session.expiresAt - req.now) / 1000);
      return { json: { role: session.role, who: session.who, expiresAt: formatInstant(session.expiresAt), csrf: session.csrf }, headers: { 'set-cookie': sessionCookie(id, maxAge, req.secure), 'cache-control': 'no-store' } };
    },
  },
  {
    method: 'GET',
    path: '/v1/session',
    summary: 'who is signed in, the role, and (through a session cookie) its expiry and CSRF value',
    auth: 'read',
    response: sessionJson,
    handle: async (req, d) => {
      const c = req.caller as { role: 'admin' | 'viewer'; who: string; sessionId?: string };
      const s = c.sessionId === undefined ? null : await (d.sessions as Sessions).lookup(c.sessionId, req.now);
      return ({ json: { role: c.role, who: c.who, expiresAt: s === null ? null : formatInstant(s.expiresAt), csrf: s?.csrf ?? null }, headers: { 'cache-control': 'no-store' } });
    },
  },
  {
    method: 'DELETE',
    path: '/v1/session',
    summary: 'sign out: the session is deleted from the store, so its cookie stops working on every controller',
    auth: 'read',
    response: 'none',
    handle: async (req, d) => {
      const c = req.caller as { sessionId?: string };
      if (c.sessionId === undefined) throw new ValidationError('cookie', `no session cookie (${SESSION_COOKIE}) to sign out of`);
      await (d.sessions as Sessions).remove(c.sessionId);
      return ({ status: 204, headers: { 'set-cookie': sessionCookie('', 0, req.secure) } });
    },
  },
  { method: 'GET', path: '/v1/tokens', summary: 'API tokens (ids and roles; never the tokens)', auth: 'admin', response: wire.tokensJson, handle: async (_req, d) => ({ json: await svc.tokensView(d.store) }) },
  {
    method: 'POST',
    path: '/v1/tokens',
    summary: 'issue an agent token for one instance (shown once)',
    auth: 'admin',
    response: wire.tokenIssuedJson,
    okStatus: 201,
    body: tokenBody,
    handle: async (req, d) => {
      const b = svc.parseBody(tokenBody, req.body);
      return { status: 201, json: await svc.issueToken(d.store, 'agent', svc.checkInstanceId(b.instance, 'instance'), b.label ?? `agent ${b.instance}`, req.now) };
    },
  },
  {
    method: 'DELETE',
    path: '/v1/tokens/{id}',
    summary: 'revoke a token by id',
    auth: 'admin',
    response: 'none',
    handle: async (req, d) => {
      if ((await svc.revokeTokens(d.store, { id: req.params['id'] ?? '' })) === 0) throw new HttpError(404, 'not-found', 'no such token');
      return { status: 204 };
    },
  },
];

/** A route's success answer (its JSON schema, `text` or `none`) by method and path template; undefined: no such route. */
export function routeResponse(method: string, path: string): Route['response'] | undefined {
  return ROUTES.find((r) => r.method === method && r.path === path)?.response;
}

const COMPILED = ROUTES.map((r) => ({ route: r, re: new RegExp(`^${r.path.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`) }));

/** The OpenAPI 3.1 document of the routes above. */
export function openApi(): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = (r.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: { type: 'string' } }));
    // The success answer: its JSON schema from src/api/wire.ts (the one the CLI decodes with), text, or no body.
    const okContent = r.response === 'none' ? {} : r.response === 'text' ? { content: { 'text/plain': { schema: { type: 'string' } } } } : { content: { 'application/json': { schema: z.toJSONSchema(r.response, { io: 'output' }) } } };
    const responses: Record<string, unknown> = r.response === 'none' ? { '204': { description: 'done: no body' } } : { [String(r.okStatus ?? 200)]: { description: 'OK', ...okContent } };
    if (r.auth !== 'none') {
      responses['401'] = { description: 'no valid token', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      responses['403'] = { description: r.auth === 'agent' ? 'an agent token of another instance' : r.auth === 'read' ? 'an agent token (admin or viewer only)' : 'an agent or viewer token (admin only)' };
    }
    if (r.body !== undefined || params.length > 0 || query.length > 0) responses['400'] = { description: 'a malformed parameter or body; the field is named', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    for (const [code, description] of Object.entries(r.responses ?? {})) responses[code] = { description, ...(code >= '400' ? { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } : okContent) };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      ...(r.auth === 'none' ? { security: [] } : {}),
      'x-fleetwarden-auth': r.auth,
      parameters: [...params, ...query],
      ...(r.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input' }) } } } }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Fleetwarden API', version: '1' },
    security: [{ bearer: [] }, { session: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the admin token, a viewer token (reads only), or an agent token (fleetwarden token issue --instance ID)' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'a dashboard session from POST /v1/session; writes also need the X-Fleetwarden-CSRF header' },
      },
      schemas: {
        Error: z.toJSONSchema(wire.errorBody, { io: 'output' }),
      },
    },
    paths,
  };
}

/**
 * /metrics: the store-derived gauges and the request latency of this server (its own Registry), merged at scrape
 * time with the controller's registry (tick and provider-call histograms, process metrics) when one is given.
 * Metric names and labels are a contract with dashboards: change them only with a note in the CHANGELOG.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>;

  constructor(deps: ApiDeps) {
    const registers = [this.registry];
    this.requestSeconds = new Histogram({ name: 'fleetwarden_api_request_seconds', help: 'API request latency by route (its template), method and status', labelNames: ['route', 'method', 'status'], registers });
    // Each gauge reads the store when scraped (prom-client calls collect before serialising).
    const gauge = (name: string, help: string, labelNames: readonly string[], read: () => Promise<readonly [Record<string, string>, number][]>): void => {
      const g: Gauge = new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const samples = await read();
          g.reset();
          for (const [labels, v] of samples) g.set(labels, v);
        },
      });
    };
    const now = (): number => deps.clock.now();
    gauge('fleetwarden_instances', 'managed instances by group and lifecycle state', ['group', 'state'], async () => {
      const counts = new Map<string, number>();
      for (const r of await deps.store.allRecords()) counts.set(`${r.group}\u0000${r.state}`, (counts.get(`${r.group}\u0000${r.state}`) ?? 0) + 1);
      return [...counts].map(([k, v]) => {
        const [group = '', state = ''] = k.split('\u0000');
        return [{ group, state }, v];
      });
    });
    gauge('fleetwarden_group_lease_held', '1 when a controller holds the group’s lease', ['group'], () => Promise.all(deps.config.groups.map(async (g) => [{ group: g.name }, (await deps.store.leaseHolder(g.name, now())) === null ? 0 : 1] as const)));
    gauge('fleetwarden_problems', 'input a group’s last tick could not use (instance tags, windows): reported and left alone', ['group'], () => Promise.all(deps.config.groups.map(async (g) => [{ group: g.name }, (await deps.store.problems(g.name)).length] as const)));
    const live = deps.live;
    if (live?.groupErrors !== undefined) {
      gauge('fleetwarden_group_failing', '1 while a group’s last tick failed', ['group'], () => {
        const errors = live.groupErrors?.() ?? new Map();
        return Promise.resolve(deps.config.groups.map((g) => [{ group: g.name }, errors.has(g.name) ? 1 : 0] as const));
      });
      gauge('fleetwarden_group_failing_retryable', '1 while a group’s last tick failed with a retryable error (the next tick tries again); failing at 0 here: needs a person', ['group'], () => {
        const errors: ReadonlyMap<string, { readonly retryable: boolean }> = live.groupErrors?.() ?? new Map();
        return Promise.resolve(deps.config.groups.map((g) => [{ group: g.name }, errors.get(g.name)?.retryable === true ? 1 : 0] as const));
      });
    }
    gauge('fleetwarden_overrides_active', 'run-time overrides in force', [], async () => [[{}, (await deps.store.overrides(now())).length]]);
    gauge('fleetwarden_controls_active', 'instance controls in force', [], async () => [[{}, (await deps.store.controls(now())).length]]);
    const stats = deps.stats;
    if (stats !== undefined) {
      // Counters kept by the run loop: set to its count at each scrape.
      const counter = (name: string, help: string, read: () => number): void => {
        const c: Counter = new Counter({
          name,
          help,
          registers,
          collect() {
            c.reset();
            c.inc(read());
          },
        });
      };
      counter('fleetwarden_ticks_total', 'reconcile ticks completed by this process', () => stats.ticks);
      counter('fleetwarden_tick_errors_total', 'reconcile ticks that failed', () => stats.tickErrors);
      gauge('fleetwarden_tick_duration_seconds', 'wall time of the last tick', [], () => Promise.resolve([[{}, stats.lastTickSeconds]]));
    }
  }

  /** The exposition (text format 0.0.4) of this server's metrics and the controller's. */
  async text(controller: Registry | undefined): Promise<string> {
    return (controller === undefined ? this.registry : Registry.merge([this.registry, controller])).metrics();
  }
}

/** An answer as the transports send it: JSON, text, or nothing. */
function answerOf(status: number, body: { json?: unknown; text?: string }, extra: Record<string, string> = {}): ApiResponse {
  if (body.text !== undefined) return { status, headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', ...extra }, body: body.text };
  if (body.json !== undefined) return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...extra }, body: JSON.stringify(body.json) };
  return { status, headers: extra, body: undefined };
}

const MAX_BODY = 256 * 1024;

async function readBody(req: ApiRequest): Promise<unknown> {
  const text = (await req.body(MAX_BODY)).toString('utf8');
  if (text.trim() === '') throw new ValidationError('body', 'a JSON body is required');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('body', 'is not valid JSON');
  }
}

/** The body too large for the API: what a transport throws from ApiRequest.body. */
export function bodyTooLarge(limit: number): Error {
  return new HttpError(413, 'too-large', `the body exceeds ${limit} bytes`);
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** The caller a token names (it is compared by hash only). */
async function callerOfToken(token: string, deps: ApiDeps, now: number): Promise<Caller> {
  // A token from an IAM login carries its expiry (covered by the stored hash).
  const expiry = loginTokenExpiry(token);
  if (expiry !== undefined && now >= expiry) throw new HttpError(401, 'unauthorized', 'the token has expired: log in again');
  const hash = svc.hashToken(token);
  if (deps.adminTokenHash != null && sameHash(hash, deps.adminTokenHash)) return { role: 'admin', who: 'admin token (FLEETWARDEN_ADMIN_TOKEN)' };
  const t: ApiToken | null = await deps.store.tokenByHash(hash);
  if (t === null) throw new HttpError(401, 'unauthorized', 'the token is not valid');
  if (t.role === 'admin' || t.role === 'viewer') return { role: t.role, who: `${t.role} token ${t.hash.slice(0, 12)}${t.label === '' ? '' : ` (${t.label})`}` };
  if (t.instanceId === null) throw new HttpError(401, 'unauthorized', 'the token is not valid');
  return { role: 'agent', instanceId: t.instanceId };
}

/** Whether the token a session was opened with still opens the same role. */
async function tokenStillValid(s: Session, deps: ApiDeps, now: number): Promise<boolean> {
  if (s.role === 'admin' && deps.adminTokenHash != null && sameHash(s.tokenHash, deps.adminTokenHash)) return true;
  const t = await deps.store.tokenByHash(s.tokenHash);
  // An IAM login's token carries its expiry in its label too (the session itself is capped at it when opened).
  const until = t === null ? NaN : labelExpiry(t.label);
  return t !== null && t.role === s.role && !(Number.isFinite(until) && until <= now);
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * A bearer token, else the dashboard's session cookie. A write through the cookie must carry the session's CSRF
 * value in X-Fleetwarden-CSRF and come from this origin (Origin header), so another site cannot make a signed-in
 * browser change anything.
 */
async function authenticate(req: ApiRequest, deps: ApiDeps, now: number): Promise<Caller> {
  const header = req.headers['authorization'];
  const sessionId = header === undefined ? cookieValue(req.headers['cookie'], SESSION_COOKIE) : undefined;
  if (sessionId !== undefined && sessionId !== '') {
    const s = await (deps.sessions as Sessions).lookup(sessionId, now);
    if (s === null) throw new HttpError(401, 'unauthorized', 'the session has expired or was signed out: sign in again');
    // A session lasts only while the token it was opened with does: revoking the token (or changing the
    // FLEETWARDEN_ADMIN_TOKEN) ends its sessions on every controller at once.
    if (!(await tokenStillValid(s, deps, now))) {
      await (deps.sessions as Sessions).remove(sessionId);
      throw new HttpError(401, 'unauthorized', 'the token this session was opened with is no longer valid: sign in again');
    }
    if (!SAFE_METHODS.has(req.method)) {
      const csrf = req.headers[CSRF_HEADER];
      if (!csrfMatches(s, typeof csrf === 'string' ? csrf : undefined)) throw new HttpError(403, 'forbidden', 'a write through the session needs the X-Fleetwarden-CSRF header of GET /v1/session');
      if (!sameOrigin(req)) throw new HttpError(403, 'forbidden', 'a write through the session must come from the dashboard’s own origin');
    }
    return { role: s.role, who: `${s.who}, session`, sessionId };
  }
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m?.[1]) throw new HttpError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer <token>)');
  return callerOfToken(m[1], deps, now);
}

/** Whether the request's Origin is this server's own (scheme and Host); a write without Origin is refused. */
function sameOrigin(req: ApiRequest): boolean {
  const origin = req.headers['origin'];
  const host = req.headers['host'];
  return origin !== undefined && host !== undefined && origin === `${req.secure ? 'https' : 'http'}://${host}`;
}

/** HTTPS directly, or per the proxy in front (a load balancer) in X-Forwarded-Proto. */
function isSecure(req: IncomingMessage): boolean {
  const proto = req.headers['x-forwarded-proto'];
  return (req.socket as { encrypted?: boolean }).encrypted === true || (typeof proto === 'string' && proto.split(',')[0]?.trim() === 'https');
}

/** Handles one request: route, authenticate, authorise, validate, answer; never throws. */
async function handle(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const started = process.hrtime.bigint();
  // A request target that is no URL at all (`//[`) is the client's mistake: 400, never a crash.
  let url: URL;
  try {
    url = new URL(req.url, 'http://localhost');
  } catch {
    deps.log?.({ method: req.method, path: '(not a URL)', status: 400, ms: 0 });
    return answerOf(400, { json: { error: { code: 'invalid', message: 'the request target is not a valid URL path' } } });
  }
  let status = 500;
  let error: string | undefined;
  // The route's template, never the path itself: one series per route, whatever ids or junk are requested.
  let routeLabel = 'unmatched';
  try {
    if ((req.method === 'GET' || req.method === 'HEAD') && deps.uiDir !== null && (url.pathname === '/' || url.pathname.startsWith('/ui/'))) {
      routeLabel = url.pathname === '/' ? '/' : '/ui/';
      const out = serveUi(deps.uiDir, url.pathname, req.method === 'HEAD');
      status = out.status;
      return out;
    }
    const matches = COMPILED.filter((c) => c.re.test(url.pathname));
    if (matches.length === 0) throw new HttpError(404, 'not-found', `no route ${url.pathname}`);
    routeLabel = matches[0]?.route.path ?? routeLabel;
    const found = matches.find((c) => c.route.method === req.method);
    if (!found) {
      status = 405;
      return answerOf(405, { json: { error: { code: 'method-not-allowed', message: `${req.method} is not allowed on ${url.pathname}` } } }, { allow: matches.map((c) => c.route.method).join(', ') });
    }
    const { route } = found;
    routeLabel = route.path;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(found.re.exec(url.pathname)?.groups ?? {})) {
      try {
        params[k] = decodeURIComponent(v);
      } catch {
        throw new ValidationError(k, 'is not valid URL encoding');
      }
    }
    const now = deps.clock.now();
    const caller: Caller = route.auth === 'none' ? { role: 'admin', who: 'anonymous' } : await authenticate(req, deps, now);
    if (route.auth === 'admin' && caller.role !== 'admin') throw new HttpError(403, 'forbidden', caller.role === 'viewer' ? 'a viewer reads only: this needs the admin token' : 'this needs the admin token');
    if (route.auth === 'read' && caller.role === 'agent') throw new HttpError(403, 'forbidden', 'this needs the admin token or a viewer token');
    // Signing in is a write that opens a session: it must come from this origin too when a browser sends one.
    if (route.path === '/v1/session' && req.method === 'POST' && req.headers['origin'] !== undefined && !sameOrigin(req)) throw new HttpError(403, 'forbidden', 'sign in from the dashboard’s own origin');
    if (route.auth === 'agent' && caller.role === 'agent' && caller.instanceId !== params['instance']) throw new HttpError(403, 'forbidden', 'an agent token reads and posts only for its own instance');
    // An agent's reports and results move maintenance on, and its pending commands carry task scripts: a viewer may
    // look at an instance's view, nothing else of the agent routes.
    if (route.auth === 'agent' && caller.role === 'viewer' && !(req.method === 'GET' && route.path === '/v1/instances/{instance}')) throw new HttpError(403, 'forbidden', 'a viewer reads only: agent reports, results and commands need the instance’s agent token or the admin token');
    const body = route.body === undefined ? undefined : await readBody(req);
    const out = await route.handle({ params, query: url.searchParams, body, caller, now, secure: req.secure, ownHost: req.ownHost }, deps);
    status = out.status ?? 200;
    return answerOf(status, out, out.headers);
  } catch (err) {
    const answer = errorAnswer(err);
    status = answer.status;
    error = answer.logged;
    return answerOf(status, { json: answer.json }, answer.headers);
  } finally {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const method = METHODS.has(req.method) ? req.method : 'other';
    deps.apiMetrics?.requestSeconds.observe({ route: routeLabel, method, status: String(status) }, ms / 1000);
    deps.log?.({ method: req.method, path: url.pathname, status, ms, ...(error === undefined ? {} : { error }) });
  }
}

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);

/**
 * The API as one function of a request, whatever carries it: `createApiServer` serves it on node:http, and the
 * Lambda function URL handler (src/api/function-url.ts) on AWS. The same routes, checks and answers on both.
 */
export function createApi(given: ApiDeps): (req: ApiRequest) => Promise<ApiResponse> {
  const deps: ApiDeps = { ...given, apiMetrics: new ApiMetrics(given), sessions: given.sessions ?? new Sessions(given.store) };
  return (req) => handle(deps, req);
}

/** A node:http request as the API's request: its body read as it comes, refused past the limit. */
function fromNode(req: IncomingMessage): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    method: req.method ?? '',
    url: req.url ?? '/',
    headers,
    secure: isSecure(req),
    body: async (limit) => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) throw bodyTooLarge(limit);
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    },
  };
}

export function createApiServer(given: ApiDeps): Server {
  const api = createApi(given);
  return createServer((req, res) => {
    void api(fromNode(req))
      .then((out) => {
        res.writeHead(out.status, out.headers);
        res.end(out.body);
      })
      .catch(() => {
        // handle() answers every failure itself; this is the last guard of the process, never reached by design.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end();
      });
  });
}

/** Parses HOST:PORT (`[::1]:8080` for IPv6). */
export function parseListen(text: string, field: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ValidationError(field, `expected HOST:PORT such as 127.0.0.1:8080, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

export async function listen(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const addr = server.address();
  return { host, port: typeof addr === 'object' && addr !== null ? addr.port : port };
}
