import { randomUUID } from 'node:crypto';
import type { EventName, EventResult } from '../../domain/model.js';
import type { BypassCheckResult } from '../../planner/types.js';
import type { TaskRunResult } from '../../maintenance/model.js';
import { InvariantError } from '../../domain/errors.js';
import type { AgentCommand, AgentQueue, Clock, CommandHandle, CommandResults, CommandRunner, ScriptOptions } from '../../ports/index.js';

/** A bypass check is a `test -e` inside the guest: it gets this long. */
const BYPASS_TIMEOUT_MS = 30_000;
/** An agent polls every 10 s by default; a command not answered this long after its own time limit is lost. */
export const PICKUP_GRACE_MS = 60_000;

/** The instant after which a command is no longer run by an agent, and counts as failed if unanswered. */
export function agentDeadline(c: Pick<AgentCommand, 'sentAt' | 'timeoutMs'>): number {
  return c.sentAt + c.timeoutMs + PICKUP_GRACE_MS;
}

/** Same event with the same arguments: one delivery, however many times the controller sends it. */
export function sameDelivery(a: Pick<AgentCommand, 'kind' | 'event' | 'args'>, b: Pick<AgentCommand, 'kind' | 'event' | 'args'>): boolean {
  return a.kind === 'event' && b.kind === 'event' && a.event === b.event && a.args.length === b.args.length && a.args.every((x, i) => x === b.args[i]);
}

/** Ids of the commands of one instance that a later command replaced. */
export function replacedIds(commands: readonly AgentCommand[]): Set<string> {
  return new Set(commands.flatMap((c) => c.replaces ?? []));
}

/**
 * Event delivery `agent` (docs/agent.md, Events (pull mode)): commands are queued in the store, pulled by each
 * instance's agent through the API, and their results posted back there. Works with any provider and any store.
 *
 * A retry replaces, it does not add: the planner sends an event again when its answer is late, but the agent may be
 * running the first one (or not have polled yet). The new command names the unanswered ones of the same delivery
 * (`replaces`); the agent's view lists only the newest, an agent running a replaced one does not start it again, the
 * first run's result answers the whole chain (services.postResult), and a replaced command never counts as failed.
 */
export class AgentCommandRunner implements CommandRunner {
  private readonly store: AgentQueue;
  private readonly clock: Clock;

  constructor(store: AgentQueue, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  private async queue(handle: CommandHandle, fields: Pick<AgentCommand, 'kind' | 'args' | 'timeoutMs'> & { event?: EventName; path?: string; script?: string; mayRerun?: boolean }): Promise<CommandHandle> {
    await this.store.queueAgentCommands(handle.instanceIds.map((instanceId) => ({ id: handle.id, instanceId, group: handle.group, sentAt: handle.sentAt, ...fields })));
    return handle;
  }

  async runEvent(group: string, instanceIds: readonly string[], event: EventName, args: readonly string[], timeoutMs: number): Promise<CommandHandle> {
    const handle: CommandHandle = { id: `agent-${randomUUID()}`, kind: 'event', group, instanceIds: [...instanceIds], event, sentAt: this.clock.now() };
    const fields = { kind: 'event' as const, event, args: [...args], timeoutMs };
    const commands: AgentCommand[] = [];
    for (const instanceId of instanceIds) {
      const earlier = (await this.store.agentCommands({ instanceId })).filter((c) => c.result === undefined && sameDelivery(c, fields)).map((c) => c.id);
      commands.push({ id: handle.id, instanceId, group, sentAt: handle.sentAt, ...fields, ...(earlier.length > 0 ? { replaces: earlier } : {}) });
    }
    await this.store.queueAgentCommands(commands);
    return handle;
  }

  checkBypass(group: string, instanceIds: readonly string[], path: string, _os: 'linux' | 'windows'): Promise<CommandHandle> {
    const handle: CommandHandle = { id: `agent-${randomUUID()}`, kind: 'bypass', group, instanceIds: [...instanceIds], sentAt: this.clock.now() };
    return this.queue(handle, { kind: 'bypass', path, args: [], timeoutMs: BYPASS_TIMEOUT_MS });
  }

  async runScript(group: string, instanceId: string, commandId: string, script: string, timeoutMs: number, options: ScriptOptions): Promise<CommandHandle> {
    // Configuration validation keeps documents away from the agent (AWS-RunShellScript's commands become a script).
    if (options.document !== undefined) throw new InvariantError(`the agent cannot run the SSM document ${options.document.name}`);
    // The caller's id makes a repeat idempotent: the store keeps the first (id, instance) pair.
    const handle: CommandHandle = { id: commandId, kind: 'script', group, instanceIds: [instanceId], sentAt: this.clock.now() };
    return this.queue(handle, { kind: 'script', script, mayRerun: options.mayRerun, args: [], timeoutMs });
  }

  /** Marks the command: its agent kills the script's process group (or never starts it) and reports `cancelled`. */
  async cancel(handle: CommandHandle, instanceId: string): Promise<void> {
    await this.store.cancelAgentCommand(handle.id, instanceId, this.clock.now());
  }

  async results(handles: readonly CommandHandle[]): Promise<CommandResults> {
    const now = this.clock.now();
    const commands = await this.store.agentCommands({ ids: handles.map((h) => h.id) });
    const byKey = new Map(commands.map((c) => [`${c.id}/${c.instanceId}`, c]));
    // An unanswered event replaced by a retry is answered through its replacement: never reported on its own.
    const replaced = new Set<string>();
    for (const instanceId of new Set(commands.filter((c) => c.kind === 'event' && c.result === undefined).map((c) => c.instanceId))) {
      for (const id of replacedIds(await this.store.agentCommands({ instanceId }))) replaced.add(`${id}/${instanceId}`);
    }
    const events: EventResult[] = [];
    const bypass: BypassCheckResult[] = [];
    const scripts: TaskRunResult[] = [];
    const finished: string[] = [];
    for (const h of handles) {
      let open = 0;
      for (const id of h.instanceIds) {
        const c = byKey.get(`${h.id}/${id}`);
        if (c?.result === undefined && replaced.has(`${h.id}/${id}`)) continue;
        const expired = now > (c === undefined ? h.sentAt + BYPASS_TIMEOUT_MS + PICKUP_GRACE_MS : agentDeadline(c));
        if (c?.result === undefined && !expired) {
          open++;
          continue;
        }
        const at = c?.result?.at ?? now;
        const outcome = c?.result?.outcome;
        const detail = outcome === undefined ? 'no agent answered in time' : `agent: ${outcome}${c?.result?.exitCode == null ? '' : ` (exit ${c.result.exitCode})`}`;
        if (h.kind === 'event' && h.event !== undefined) events.push({ instanceId: id, event: h.event, ok: outcome === 'success', at, detail });
        else if (h.kind === 'bypass') bypass.push({ instanceId: id, result: outcome === 'present' || outcome === 'absent' ? outcome : 'unknown', at });
        else if (h.kind === 'script') {
          const r = c?.result;
          const status = r === undefined ? 'timed-out' : r.outcome === 'success' || r.outcome === 'timed-out' || r.outcome === 'cancelled' ? r.outcome : 'failed';
          scripts.push({ commandId: h.id, instanceId: id, status, exitCode: r?.exitCode ?? null, output: r?.output ?? 'no agent answered in time', at, reboots: r?.reboots ?? 0 });
        }
      }
      if (open === 0) finished.push(h.id);
    }
    return { events, bypass, scripts, finished };
  }
}
