/**
 * The maintenance step of a tick: opens a window execution when a period of a configuration window with tasks
 * begins, advances every open execution with the engine (src/maintenance/execution.ts), and carries out its
 * actions — deregister/register in target groups, scripts and probes through the command runner, full outputs to
 * the object store. Everything it decides is saved with the tick, so a restarted controller resumes where it
 * stopped: commands carry ids of the execution's own, and a repeat is not run twice.
 */
import type { GroupConfig } from '../config/config.js';
import { covers, type Resolved } from '../config/resolve.js';
import { advanceExecution, type MaintenanceAction, newExecution, type TargetView } from '../maintenance/execution.js';
import type { CancelRequest, TaskRunResult, WindowExecution } from '../maintenance/model.js';
import type { EventResult, InstanceRecord, ObservedInstance } from '../domain/model.js';
import type { AgentQueue, CommandHandle, CommandRunner, ExecutionStore, HistoryEntry, LoadBalancer, ObjectStore } from '../ports/index.js';
import { LeaseLostError } from '../domain/errors.js';
import type { AgentAck } from '../domain/agent-ack.js';

export interface MaintenanceDeps {
  /** Retries a provider call with back-off (throttling); what still fails is recorded and repaired later. */
  readonly retry: <T>(what: string, history: HistoryEntry[], fn: () => Promise<T>) => Promise<T>;
  readonly store: ExecutionStore & AgentQueue;
  readonly lb: LoadBalancer;
  readonly runner: CommandRunner;
  readonly objects: ObjectStore | null;
  readonly tagPrefix: string;
  /** Deregistration delay of each target group (ms), as observed this tick. */
  readonly deregistrationDelays?: ReadonlyMap<string, number>;
}

export interface MaintenanceTick {
  /** Executions that changed (to save). */
  readonly executions: WindowExecution[];
  readonly handles: CommandHandle[];
  readonly history: HistoryEntry[];
  /** Load-balancer changes, to carry out only once the tick is saved (write-ahead): see `carryOutAfterSave`. */
  readonly afterSave: MaintenanceAction[];
}

function views(tagPrefix: string, instances: readonly ObservedInstance[], records: ReadonlyMap<string, InstanceRecord>): Map<string, TargetView & { subfleet: string | undefined }> {
  const out = new Map<string, TargetView & { subfleet: string | undefined }>();
  for (const i of instances) {
    const r = records.get(i.id);
    const subfleet = i.tags[`${tagPrefix}:subfleet-name`];
    out.set(i.id, { id: i.id, running: i.power === 'running' && r?.state === 'running', healthy: i.health === 'ok', targets: i.targets, tags: i.tags, fleet: subfleet ?? 'main', subfleet });
  }
  return out;
}

async function carryOut(deps: MaintenanceDeps, group: string, a: MaintenanceAction, probeTimeLimitMs: number, history: HistoryEntry[], now: number, handles: readonly CommandHandle[] = []): Promise<CommandHandle | null> {
  switch (a.kind) {
    case 'take-out':
      for (const tg of a.targetGroups) await deps.lb.deregister(tg, [a.instanceId]);
      return null;
    case 'put-back':
      for (const tg of a.targetGroups) await deps.lb.register(tg, [a.instanceId]);
      return null;
    case 'run-script':
      history.push({ at: now, group, instanceId: a.instanceId, type: 'maintenance', summary: `${a.purpose === 'task' ? 'task' : 'health check'} sent: ${a.reason}`, data: { command: a.commandId } });
      return deps.runner.runScript(group, a.instanceId, a.commandId, a.script, a.timeoutMs, { mayRerun: a.mayRerun, ...(a.document === undefined ? {} : { document: a.document }), ...(a.output === undefined ? {} : { output: a.output }) });
    case 'cancel-script': {
      // The saved handle carries the provider's own id (SSM's CommandId), also after a restart.
      const handle = handles.find((h) => h.id === a.commandId) ?? { id: a.commandId, kind: 'script' as const, group, instanceIds: [a.instanceId], sentAt: now };
      history.push({ at: now, group, instanceId: a.instanceId, type: 'maintenance', summary: `cancel sent: ${a.reason}`, data: { command: a.commandId } });
      await deps.runner.cancel(handle, a.instanceId);
      return null;
    }
    case 'probe':
      return deps.runner.runEvent(group, [a.instanceId], 'instance-ready-for-shutdown', ['maintenance', 'running'], probeTimeLimitMs);
  }
}

function markUnsent(exec: WindowExecution, task: string, target: string): WindowExecution {
  return {
    ...exec,
    tasks: exec.tasks.map((t) => (t.name !== task ? t : { ...t, invocations: t.invocations.map((i) => (i.target !== target || i.pending === undefined ? i : { ...i, pending: { ...i.pending, unsent: true } })) })),
  };
}

/** What a tick brings to maintenance: the group, what it resolved and observed, and what arrived. */
export interface MaintenanceInputs {
  readonly group: GroupConfig;
  readonly resolved: Resolved;
  readonly instances: readonly ObservedInstance[];
  /** The records as this tick's plan left them. */
  readonly records: ReadonlyMap<string, InstanceRecord>;
  readonly now: number;
  /** The executions loaded with the group. */
  readonly open: readonly WindowExecution[];
  /** Results that arrived this tick. */
  readonly scripts: readonly TaskRunResult[];
  readonly events: readonly EventResult[];
  readonly returnToService: ReadonlySet<string>;
  /** The group's open command handles (a cancel needs the provider's id of a script). */
  readonly handles: readonly CommandHandle[];
  /** Operators' cancel requests of the group's executions. */
  readonly cancels: readonly CancelRequest[];
}

/** The executions to advance: the open ones, and one for each window period with tasks that has begun. */
async function dueExecutions(deps: MaintenanceDeps, g: GroupConfig, open: readonly WindowExecution[], now: number, history: HistoryEntry[]): Promise<WindowExecution[]> {
  const execs = [...open];
  // A period of a window with tasks has begun: one execution per period, never a second after it finished.
  for (const w of g.windows) {
    if (w.tasks === undefined || w.tasks.length === 0 || w.schedule === null) continue;
    let period;
    try {
      period = w.schedule.windowAt(now, 0);
    } catch {
      continue; // an unevaluable window fails closed elsewhere; it starts no task
    }
    if (period === null) continue;
    const fresh = newExecution(g.name, w.name, period.start, period.end, period.lastTaskStart, w.tasks, now, w.description);
    if (execs.some((e) => e.id === fresh.id) || (await deps.store.execution(fresh.id)) !== null) continue;
    execs.push(fresh);
    history.push({ at: now, group: g.name, instanceId: null, type: 'maintenance', summary: `window execution ${fresh.id} started: ${w.tasks.length} task(s)` });
  }
  return execs;
}

/** One tick of maintenance for a group (`deps`: the ports it acts through; `input`: what this tick knows). */
export async function maintenanceTick(deps: MaintenanceDeps, input: MaintenanceInputs): Promise<MaintenanceTick> {
  const { group: g, resolved, instances, records, now, scripts, events, returnToService } = input;
  const history: HistoryEntry[] = [];
  const handles: CommandHandle[] = [];
  const changed: WindowExecution[] = [];
  const execs = await dueExecutions(deps, g, input.open, now, history);
  const afterSave: MaintenanceAction[] = [];
  if (execs.length === 0) return { executions: [], handles, history, afterSave };

  const all = views(deps.tagPrefix, instances, records);
  const results = new Map(scripts.map((r) => [`${r.commandId}/${r.instanceId}`, r]));
  const probes = new Map(events.filter((e) => e.event === 'instance-ready-for-shutdown').map((e) => [e.instanceId, e.ok]));
  const probe = resolved.settings.event('instance-ready-for-shutdown');
  const handshake = resolved.settings.handshake;
  // The agents' reports are read only where they are waited for (one query per group and tick).
  const acks = handshake.confirm ? await deps.store.agentAcks(g.name) : new Map<string, AgentAck>();
  for (const [n, exec] of execs.entries()) {
    const decl = g.windows.find((w) => w.name === exec.window);
    const covered = new Map([...all].filter(([, v]) => decl === undefined || covers(decl.scope, v.subfleet === undefined ? { kind: 'main' } : { kind: 'subfleet', name: v.subfleet })));
    const outElsewhere = new Set(execs.filter((_, k) => k !== n).flatMap((e) => e.tasks.flatMap((t) => t.invocations.filter((i) => i.outOfService).map((i) => i.target))));
    const step = advanceExecution({
      exec,
      tasks: decl?.tasks ?? [],
      instances: covered,
      results,
      probes,
      drainWaitMs: resolved.settings.lifecycle('drainMinimum'),
      ...(deps.deregistrationDelays === undefined ? {} : { deregistrationDelays: deps.deregistrationDelays }),
      probeTimeLimitMs: probe.enabled ? probe.timeLimitMs : null,
      outElsewhere,
      returnToService,
      onTaskFailure: decl?.onTaskFailure ?? 'abort',
      cancel: input.cancels.find((c) => c.execution === exec.id) ?? null,
      handshake,
      acks,
      now,
    });
    for (const o of step.outputs) {
      if (deps.objects === null) break;
      try {
        await deps.retry(`keep output ${o.key}`, history, () => (deps.objects as ObjectStore).put(o.key, o.body));
      } catch (err) {
        if (err instanceof LeaseLostError) throw err;
        history.push({ at: now, group: g.name, instanceId: null, type: 'error', summary: `full output ${o.key} not kept (the first 2500 characters are): ${err instanceof Error ? err.message : String(err)}` });
      }
    }
    let next = step.exec;
    for (const a of step.actions) {
      if (a.kind === 'take-out' || a.kind === 'put-back') {
        afterSave.push(a);
        continue;
      }
      try {
        const h = await deps.retry(`maintenance ${a.kind} ${a.instanceId}`, history, () => carryOut(deps, g.name, a, probe.timeLimitMs, history, now, input.handles));
        if (h !== null) handles.push(h);
      } catch (err) {
        if (err instanceof LeaseLostError) throw err;
        // Nothing is lost: a script or probe that could not be sent is marked so, and sent again under the same id.
        // A cancel that failed is not repeated: the script's own result (or the engine's wait for it) decides.
        const again = a.kind !== 'cancel-script';
        history.push({ at: now, group: g.name, instanceId: a.instanceId, type: 'error', summary: `maintenance ${a.kind} failed: ${err instanceof Error ? err.message : String(err)}${again ? '; tried again next tick' : ''}` });
        if (again) next = markUnsent(next, a.task, a.instanceId);
      }
    }
    for (const note of step.notes) history.push({ at: now, group: g.name, instanceId: note.instanceId, type: 'maintenance', summary: note.summary, data: { execution: exec.id, ...(note.status === undefined ? {} : { status: note.status }), ...(note.task === undefined ? {} : { task: note.task }) } });
    execs[n] = next;
    if (next !== exec) changed.push(next);
  }
  return { executions: changed, handles, history, afterSave };
}

/**
 * The load-balancer changes of a saved tick. One that fails (after retries) is recorded and repeated by the
 * engine on the next tick while the target groups do not show it.
 */
export async function carryOutAfterSave(deps: MaintenanceDeps, group: string, actions: readonly MaintenanceAction[], now: number): Promise<HistoryEntry[]> {
  const history: HistoryEntry[] = [];
  for (const a of actions) {
    try {
      await deps.retry(`maintenance ${a.kind} ${a.instanceId}`, history, () => carryOut(deps, group, a, 0, history, now));
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      history.push({ at: now, group, instanceId: a.instanceId, type: 'error', summary: `maintenance ${a.kind} failed: ${err instanceof Error ? err.message : String(err)}; tried again next tick` });
    }
  }
  return history;
}
