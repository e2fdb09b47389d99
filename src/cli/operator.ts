/** Run-time overrides, instance controls and API tokens: through a running controller's API, or on the store. */
import { hostname, userInfo } from 'node:os';
import { cancelExecution, controlsView, executionsView, executionView, issueToken, overridesView, removeOverride, revokeTokens, setControl, setOverride, tokensView, checkControlKind, checkInstanceId } from '../api/services.js';
import * as wire from '../api/wire.js';
import { ValidationError } from '../domain/errors.js';
import { systemClock } from '../domain/time.js';
import { type CliIo, type Command, escapeControl, EXIT, intOption, parse, table, UsageError } from './io.js';
import { operatorLogin } from './iam.js';
import { TARGET_HELP, TARGET_OPTIONS, viaApiOrStore, withStore } from './remote.js';

function positional(list: readonly string[], i: number, name: string, usage: string): string {
  const v = list[i];
  if (v === undefined || v === '') throw new UsageError(name, `is required; usage: ${usage}`);
  return v;
}

function required(v: string | undefined, flag: string, example: string): string {
  if (v === undefined) throw new UsageError(flag, `is required, e.g. ${flag} ${example}`);
  return v;
}

const p = encodeURIComponent;

const overrideSet: Command = {
  name: 'set',
  summary: 'set a setting of a group for a time, with a reason (the highest layer)',
  help: `Usage: fleetwarden override set GROUP KEY VALUE --ttl DURATION --reason TEXT [--json] [--url URL] ...

Overrides KEY (any key 'fleetwarden config explain' lists) in GROUP until the TTL runs out; the value is checked
exactly as in the configuration file ("50%", "3", "15m", "true"). Example:
  fleetwarden override set web fleets.main.desired 100% --ttl 2h --reason "launch traffic"

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...TARGET_OPTIONS, ttl: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } });
    const usage = 'override set GROUP KEY VALUE --ttl 2h --reason TEXT';
    const group = positional(positionals, 0, 'GROUP', usage);
    const key = positional(positionals, 1, 'KEY', usage);
    const value = positional(positionals, 2, 'VALUE', usage);
    const body = { value, ttl: required(values.ttl, '--ttl', '2h'), reason: required(values.reason, '--reason', '"load test"') };
    const out = await viaApiOrStore(values, (api) => api.call('PUT', `/v1/groups/${p(group)}/overrides/${p(key)}`, wire.overrideSetJson, body), (store, config, local) => setOverride(store, config, group, key, body, local.now));
    io.out(values.json === true ? JSON.stringify(out) : `${group}: ${out.key} = ${out.value} until ${out.expiresAt}`);
    return EXIT.ok;
  },
};

const overrideList: Command = {
  name: 'list',
  summary: 'overrides in force',
  help: `Usage: fleetwarden override list [--json] [--url URL] ...\n\n${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, json: { type: 'boolean' } }, false);
    const out = await viaApiOrStore(values, (api) => api.call('GET', '/v1/overrides', wire.overridesJson), (store, _config, local) => overridesView(store, local.now));
    io.out(values.json === true ? JSON.stringify(out) : out.overrides.length === 0 ? 'No override in force.' : table(['group', 'key', 'value', 'until', 'reason'], out.overrides.map((o) => [o.group, o.key, o.value, o.expiresAt, o.reason])));
    return EXIT.ok;
  },
};

const overrideRemove: Command = {
  name: 'remove',
  summary: 'remove an override before its TTL',
  help: `Usage: fleetwarden override remove GROUP KEY [--url URL] ...\n\n${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, TARGET_OPTIONS);
    const group = positional(positionals, 0, 'GROUP', 'override remove GROUP KEY');
    const key = positional(positionals, 1, 'KEY', 'override remove GROUP KEY');
    await viaApiOrStore(
      values,
      (api) => api.call('DELETE', `/v1/groups/${p(group)}/overrides/${p(key)}`, wire.noContent),
      async (store, config) => {
        if (!(await removeOverride(store, config, group, key))) throw new ValidationError('KEY', `no override of ${key} in ${group}`);
        return null;
      },
    );
    io.out(`${group}: override of ${key} removed`);
    return EXIT.ok;
  },
};

const controlSet: Command = {
  name: 'set',
  summary: 'make an instance unstoppable, unstartable or excluded for a time, with a reason',
  help: `Usage: fleetwarden control set INSTANCE KIND --ttl DURATION --reason TEXT [--json] [--url URL] ...

KIND: unstoppable (never stopped or drained), unstartable (never started), excluded (hands off entirely),
return-to-service (put back an instance a failed maintenance task left out of service).
Example: fleetwarden control set i-0abc123 unstoppable --ttl 4h --reason "debugging a memory leak"

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...TARGET_OPTIONS, ttl: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } });
    const usage = 'control set INSTANCE KIND --ttl 4h --reason TEXT';
    const instance = checkInstanceId(positional(positionals, 0, 'INSTANCE', usage), 'INSTANCE');
    const kind = checkControlKind(positional(positionals, 1, 'KIND', usage), 'KIND');
    const body = { ttl: required(values.ttl, '--ttl', '4h'), reason: required(values.reason, '--reason', '"debugging"') };
    const out = await viaApiOrStore(values, (api) => api.call('PUT', `/v1/instances/${p(instance)}/controls/${kind}`, wire.controlSetJson, body), (store, _config, local) => setControl(store, instance, kind, body, local.now));
    io.out(values.json === true ? JSON.stringify(out) : `${instance}: ${kind} until ${out.until}`);
    return EXIT.ok;
  },
};

const controlList: Command = {
  name: 'list',
  summary: 'controls in force',
  help: `Usage: fleetwarden control list [--json] [--url URL] ...\n\n${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, json: { type: 'boolean' } }, false);
    const out = await viaApiOrStore(values, (api) => api.call('GET', '/v1/controls', wire.controlsJson), (store, _config, local) => controlsView(store, local.now));
    io.out(values.json === true ? JSON.stringify(out) : out.controls.length === 0 ? 'No control in force.' : table(['instance', 'control', 'until', 'reason'], out.controls.map((c) => [c.instance, c.kind, c.until, c.reason])));
    return EXIT.ok;
  },
};

const controlRemove: Command = {
  name: 'remove',
  summary: 'lift a control before its TTL',
  help: `Usage: fleetwarden control remove INSTANCE KIND [--url URL] ...\n\n${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, TARGET_OPTIONS);
    const instance = checkInstanceId(positional(positionals, 0, 'INSTANCE', 'control remove INSTANCE KIND'), 'INSTANCE');
    const kind = checkControlKind(positional(positionals, 1, 'KIND', 'control remove INSTANCE KIND'), 'KIND');
    await viaApiOrStore(
      values,
      (api) => api.call('DELETE', `/v1/instances/${p(instance)}/controls/${kind}`, wire.noContent),
      async (store) => {
        if (!(await store.removeControl(instance, kind))) throw new ValidationError('KIND', `${instance} has no ${kind} control`);
        return null;
      },
    );
    io.out(`${instance}: ${kind} lifted`);
    return EXIT.ok;
  },
};

const tokenIssue: Command = {
  name: 'issue',
  summary: 'issue an agent token for one instance (or --admin, or --viewer), shown once',
  help: `Usage: fleetwarden token issue (--instance ID | --admin | --viewer) [--label TEXT] [--json] [--url URL] ...

Prints a new token once; only its SHA-256 is stored. An agent token reads and posts only for its own instance:
give it to that instance's agent (--token-file). --admin issues another admin token; --viewer a read-only one
(reads what the admin reads, changes nothing: for the dashboard, docs/dashboard.md). Both on the store only, not
via --url.

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, instance: { type: 'string' }, admin: { type: 'boolean' }, viewer: { type: 'boolean' }, label: { type: 'string' }, json: { type: 'boolean' } }, false);
    const kinds = [values.instance !== undefined, values.admin === true, values.viewer === true].filter(Boolean).length;
    if (kinds !== 1) throw new UsageError('--instance', 'give one of --instance ID (an agent token), --admin or --viewer');
    let out: { token: string; id: string };
    if (values.admin === true || values.viewer === true) {
      const role = values.admin === true ? 'admin' : 'viewer';
      if (values.url !== undefined) throw new UsageError(`--${role}`, `${role} tokens are issued on the store only (run where the store is, without --url)`);
      out = await withStore(values, (store) => issueToken(store, role, null, values.label ?? 'issued by the CLI', systemClock.now()));
    } else {
      const instance = checkInstanceId(values.instance ?? '', '--instance');
      const label = values.label ?? `agent ${instance}`;
      out = await viaApiOrStore(values, (api) => api.call('POST', '/v1/tokens', wire.tokenIssuedJson, { instance, label }), (store) => issueToken(store, 'agent', instance, label, systemClock.now()));
    }
    io.out(values.json === true ? JSON.stringify(out) : `${out.token}\n(token id ${out.id}; it is shown only now)`);
    return EXIT.ok;
  },
};

const tokenList: Command = {
  name: 'list',
  summary: 'tokens by id, role and instance (never the tokens)',
  help: `Usage: fleetwarden token list [--json] [--url URL] ...\n\n${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, json: { type: 'boolean' } }, false);
    const out = await viaApiOrStore(values, (api) => api.call('GET', '/v1/tokens', wire.tokensJson), (store) => tokensView(store));
    io.out(values.json === true ? JSON.stringify(out) : table(['id', 'role', 'instance', 'created', 'label'], out.tokens.map((t) => [t.id, t.role, t.instance ?? '', t.createdAt, t.label])));
    return EXIT.ok;
  },
};

const tokenRevoke: Command = {
  name: 'revoke',
  summary: 'revoke a token by id, or every token of an instance',
  help: `Usage: fleetwarden token revoke (ID | --instance ID) [--url URL] ...\n\n${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...TARGET_OPTIONS, instance: { type: 'string' } });
    const id = positionals[0];
    if ((id === undefined) === (values.instance === undefined)) throw new UsageError('ID', 'give a token id (from token list) or --instance ID');
    const n = await viaApiOrStore(
      values,
      async (api) => {
        if (id === undefined) throw new UsageError('--instance', 'revoking by instance is done on the store (without --url); through the API give the token id');
        await api.call('DELETE', `/v1/tokens/${p(id)}`, wire.noContent);
        return 1;
      },
      (store) => revokeTokens(store, id === undefined ? { instanceId: values.instance ?? '' } : { id }),
    );
    if (n === 0) throw new ValidationError(id === undefined ? '--instance' : 'ID', 'no such token');
    io.out(`${n} token(s) revoked`);
    return EXIT.ok;
  },
};

const tokenLogin: Command = {
  name: 'login',
  summary: 'log in to an API with your AWS identity: a short-lived admin or viewer token (controller.operatorIam)',
  help: `Usage: fleetwarden token login --url URL [--server-id ID] [--json]

Signs sts:GetCallerIdentity with your AWS credentials (profile, SSO, AWS_* variables) for the API at --url, which
asks STS who you are and answers with a token for your role's access (controller.operatorIam.admins or viewers),
valid for controller.operatorIam.tokenTtl. It prints the token (to sign in to the dashboard, or as FLEETWARDEN_TOKEN);
every other command takes --iam to do the same for itself.

  --url URL         the API (or FLEETWARDEN_URL), e.g. the stack's ApiUrl output
  --server-id ID    the server id to sign for (or FLEETWARDEN_SERVER_ID; default: the URL's HOST[:PORT])
  --json            {"role","who","token","expiresAt"}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { url: { type: 'string' }, 'server-id': { type: 'string' }, json: { type: 'boolean' } }, false);
    const url = values.url ?? process.env['FLEETWARDEN_URL'];
    if (url === undefined || !/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError('--url', `expected the API's URL such as https://abc.lambda-url.eu-west-1.on.aws, got ${JSON.stringify(url ?? '')}`);
    const out = await operatorLogin(url, { serverId: values['server-id'] });
    io.out(values.json === true ? JSON.stringify(out) : `${out.token}\n(${out.role} as ${out.who}, until ${out.expiresAt})`);
    return EXIT.ok;
  },
};

/** An execution's status as the operator reads it: still running but cancelled shows as CANCELLING. */
function statusText(e: Pick<wire.ExecutionSummaryJson, 'status' | 'cancel'>): string {
  return e.status === 'IN_PROGRESS' && e.cancel !== null ? 'CANCELLING' : e.status;
}

const executionsList: Command = {
  name: 'list',
  summary: 'maintenance window executions, newest first',
  help: `Usage: fleetwarden executions list [--group NAME] [--limit N] [--before ID] [--json] [--url URL] ...

Each window execution (one period of a window with tasks) with its status and, per task, how many targets
succeeded, failed, were not run (error budget, cutoff, cancel, or skipped because an earlier task failed there),
and which instances it left out of service.

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, group: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' }, json: { type: 'boolean' } }, false);
    const limit = intOption(values.limit, '--limit', 1, 500) ?? 20;
    const q = new URLSearchParams({ limit: String(limit), ...(values.group === undefined ? {} : { group: values.group }), ...(values.before === undefined ? {} : { before: values.before }) });
    const out = await viaApiOrStore(values, (api) => api.call('GET', `/v1/executions?${q.toString()}`, wire.executionsJson), (store) => executionsView(store, { group: values.group, limit, before: values.before }));
    if (values.json === true) {
      io.out(JSON.stringify(out));
      return EXIT.ok;
    }
    const rows = out.executions.flatMap((e) => e.tasks.map((t, n) => [n === 0 ? e.id : '', n === 0 ? statusText(e) : '', n === 0 ? (e.description ?? '') : '', t.name, t.status, `${t.succeeded}/${t.targets}`, String(t.failed), String(t.notRun + t.skipped.length), t.outOfService.join(', ')]));
    io.out(out.executions.length === 0 ? 'No execution yet.' : table(['execution', 'status', 'description', 'task', 'task status', 'ok', 'failed', 'not run', 'left out of service'], rows));
    if (out.next !== null) io.out(`(more: --before ${out.next})`);
    return EXIT.ok;
  },
};

const executionsShow: Command = {
  name: 'show',
  summary: 'one execution: tasks, invocations, exit codes, output',
  help: `Usage: fleetwarden executions show ID [--json] [--url URL] ...

ID is <group>/<window>/<period start> as 'executions list' shows it. Prints every invocation with its status,
times, exit code, the first 2500 characters of its output and the object-store key of the full output.

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...TARGET_OPTIONS, json: { type: 'boolean' } });
    const id = positional(positionals, 0, 'ID', 'executions show <group>/<window>/<period start>');
    const out = await viaApiOrStore(
      values,
      (api) => api.call('GET', `/v1/executions/${p(id)}`, wire.executionJson),
      async (store) => {
        const view = await executionView(store, id);
        if (view === null) throw new ValidationError('ID', `no execution ${id}`);
        return view;
      },
    );
    if (values.json === true) {
      io.out(JSON.stringify(out));
      return EXIT.ok;
    }
    io.out(escapeControl(`${out.id}: ${statusText(out)} (period ${out.start} → ${out.end})${out.description === null ? '' : ` — ${out.description}`}`));
    if (out.cancel !== null) io.out(escapeControl(`cancelled by ${out.cancel.by} at ${out.cancel.at}: ${out.cancel.reason}`));
    for (const t of out.tasks) {
      io.out(`\ntask ${t.name}: ${t.status} — ${t.detail}`);
      if (t.skipped.length > 0) io.out(`skipped (an earlier task failed there): ${t.skipped.join(', ')}`);
      if (t.invocations.length > 0) io.out(table(['instance', 'status', 'started', 'ended', 'exit', 'out of service', 'detail'], t.invocations.map((i) => [i.instance, i.status, i.startedAt, i.endedAt ?? '', i.exitCode === null ? '' : String(i.exitCode), i.outOfService ? 'yes' : '', i.detail])));
      for (const i of t.invocations) if (i.output !== null && i.output.trim() !== '') io.out(`--- ${i.instance} output${i.outputKey === null ? '' : ` (full: ${i.outputKey})`}\n${i.output.trimEnd()}`);
    }
    return EXIT.ok;
  },
};

/** Who runs the CLI, for the history: the user and host (no secret). */
function cliUser(): string {
  try {
    return `cli ${userInfo().username}@${hostname()}`;
  } catch {
    return `cli ${hostname()}`;
  }
}

const executionsCancel: Command = {
  name: 'cancel',
  summary: 'cancel a running execution: scripts cancelled, nothing new started, drained instances put back',
  help: `Usage: fleetwarden executions cancel ID --reason TEXT [--json] [--url URL] ...

Asks the controller to cancel a running execution on its next tick: running scripts are cancelled (SSM
CancelCommand; the agent kills the script's process group), no target or task starts any more, instances taken out
of service go back as after any run (a target whose task had already failed stays out), and the execution ends
CANCELLED; who asked and when is kept in its history. Asking again changes nothing. An execution that has ended
cannot be cancelled (exit 2). Example:
  fleetwarden executions cancel web/FW-web-patch/2026-06-07T02:00:00Z --reason "patch breaks the app"

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...TARGET_OPTIONS, reason: { type: 'string' }, json: { type: 'boolean' } });
    const id = positional(positionals, 0, 'ID', 'executions cancel <group>/<window>/<period start> --reason TEXT');
    const body = { reason: required(values.reason, '--reason', '"patch breaks the app"') };
    const out = await viaApiOrStore(
      values,
      (api) => api.call('POST', `/v1/executions/${p(id)}/cancel`, wire.cancelAnswerJson, body),
      async (store, _config, local) => {
        const r = await cancelExecution(store, id, body, cliUser(), local.now);
        if (r === null) throw new ValidationError('ID', `no execution ${id}`);
        return r.json;
      },
    );
    io.out(values.json === true ? JSON.stringify(out) : escapeControl(`${out.id}: cancel ${out.message} (by ${out.cancel.by} at ${out.cancel.at})`));
    return EXIT.ok;
  },
};

export const executionCommands: readonly Command[] = [executionsList, executionsShow, executionsCancel];
export const overrideCommands: readonly Command[] = [overrideSet, overrideList, overrideRemove];
export const controlCommands: readonly Command[] = [controlSet, controlList, controlRemove];
export const tokenCommands: readonly Command[] = [tokenIssue, tokenList, tokenRevoke, tokenLogin];
