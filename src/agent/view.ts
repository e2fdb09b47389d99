/**
 * What the agent accepts from the API. The agent runs `<script-dir>/<state>/*` and `<event-dir>/<event>`, so a state
 * or an event name is a path: only the closed sets (lifecycle states, event names) are taken; anything else — a
 * compromised or confused controller, a proxy in between — is reported and nothing is run for it.
 */
import type { Preset } from '../domain/naming.js';
import { isLifecycleState, type LifecycleState } from '../domain/lifecycle.js';
import { isEventName } from '../domain/model.js';
import type { AgentCommand } from './agent.js';
import type { AgentGoal } from '../domain/agent-ack.js';

/** A command's own time limit is at most this (a maintenance task's longest timeout, 48 h). */
const MAX_COMMAND_TIMEOUT_MS = 48 * 3_600_000;
const KINDS = ['event', 'bypass', 'script'] as const;

export interface CheckedView {
  /** null: the answer carried no usable state (the last known one is kept). */
  readonly state: LifecycleState | null;
  readonly drain: boolean | undefined;
  /** What to apply (the drain handshake); undefined from a controller that predates it (then `drain` decides). */
  readonly goal: AgentGoal | undefined;
  /** The view's version: a long poll asks for a view other than this one; undefined: the controller cannot long-poll. */
  readonly version: string | undefined;
  /** Out of service for maintenance (the drain hooks run on its take-out and put-back). */
  readonly maintenance: boolean;
  readonly commands: readonly AgentCommand[];
  /** The controller's naming preset (where scripts live by default); undefined when absent or unknown. */
  readonly preset: Preset | undefined;
  /** Registered in target groups and not in a subfleet: the load balancer drains it (the seed's "no need"). */
  readonly loadBalanced: boolean;
  /** What was refused, for the log (the log writer escapes it). */
  readonly refused: readonly { readonly key: string; readonly message: string }[];
}

/** A value in a log message: quoted, and short — it came from the network. */
function shown(value: unknown): string {
  const text = (JSON.stringify(value) as string | undefined) ?? String(value); // undefined has no JSON
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** One pending command, or why it is refused. */
function checkCommand(raw: unknown): AgentCommand | string {
  if (typeof raw !== 'object' || raw === null) return `a command that is not an object: ${shown(raw)}`;
  const c = raw as Record<string, unknown>;
  const id = c['id'];
  if (typeof id !== 'string' || !/^[\w./:-]{1,200}$/.test(id)) return `a command with an invalid id ${shown(id)}`;
  const kind = c['kind'];
  if (!(KINDS as readonly unknown[]).includes(kind)) return `command ${id}: unknown kind ${shown(kind)}`;
  const timeoutMs = c['timeoutMs'];
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_COMMAND_TIMEOUT_MS)) return `command ${id}: invalid timeoutMs ${shown(timeoutMs)}`;
  const args = c['args'] ?? [];
  if (!isStringArray(args)) return `command ${id}: args are not a list of strings`;
  const event = c['event'];
  if (kind === 'event' && !isEventName(event)) return `command ${id}: unknown event ${shown(event)}`;
  const path = c['path'];
  if (kind === 'bypass' && typeof path !== 'string') return `command ${id}: a bypass check without a path`;
  const script = c['script'];
  if (kind === 'script' && typeof script !== 'string') return `command ${id}: a maintenance script without a script`;
  const replaces = c['replaces'] ?? [];
  if (!isStringArray(replaces) || replaces.some((r) => !/^[\w./:-]{1,200}$/.test(r))) return `command ${id}: replaces is not a list of command ids`;
  return {
    id,
    kind: kind as AgentCommand['kind'],
    args,
    timeoutMs,
    ...(kind === 'event' ? { event: event as string } : {}),
    ...(typeof path === 'string' ? { path } : {}),
    ...(typeof script === 'string' ? { script, mayRerun: c['mayRerun'] === true } : {}),
    // The controller asks a maintenance script to stop: only `true` counts.
    ...(kind === 'script' && c['cancel'] === true ? { cancel: true } : {}),
    ...(replaces.length > 0 ? { replaces } : {}),
  };
}

/** Checks an answer of `GET /v1/instances/{id}`; never throws. */
export function checkView(raw: unknown): CheckedView {
  const refused: { key: string; message: string }[] = [];
  const v = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const rawState = v['state'];
  const state = isLifecycleState(rawState) ? rawState : null;
  if (state === null) refused.push({ key: `state:${shown(rawState)}`, message: `ignored an unknown state ${shown(rawState)} from the controller; keeping the last known one, no script run` });
  const drain = typeof v['drain'] === 'boolean' ? v['drain'] : undefined;
  const rawGoal = v['goal'];
  let goal: AgentGoal | undefined;
  if (rawGoal !== undefined) {
    const g = typeof rawGoal === 'object' && rawGoal !== null ? (rawGoal as Record<string, unknown>) : {};
    if ((g['ports'] === 'blocked' || g['ports'] === 'open') && (g['health'] === 'pass' || g['health'] === 'fail') && typeof g['version'] === 'string' && /^[\w.:-]{1,200}$/.test(g['version'])) goal = { ports: g['ports'], health: g['health'], version: g['version'] };
    else refused.push({ key: `goal:${shown(rawGoal)}`, message: `ignored an unusable goal ${shown(rawGoal)} from the controller; following its drain flag` });
  }
  const version = typeof v['version'] === 'string' && /^[\w-]{1,64}$/.test(v['version']) ? v['version'] : undefined;
  const m = v['maintenance'];
  const maintenance = typeof m === 'object' && m !== null && (m as Record<string, unknown>)['outOfService'] === true;
  const rawPreset = v['preset'];
  const preset = rawPreset === 'fleetwarden' || rawPreset === 'clonesquad' ? rawPreset : undefined;
  if (rawPreset !== undefined && preset === undefined) refused.push({ key: `preset:${shown(rawPreset)}`, message: `ignored an unknown preset ${shown(rawPreset)} from the controller` });
  const loadBalanced = Array.isArray(v['targetGroups']) && v['targetGroups'].length > 0 && (v['subfleet'] === null || v['subfleet'] === undefined);
  const list = Array.isArray(v['pendingCommands']) ? (v['pendingCommands'] as unknown[]) : [];
  const commands: AgentCommand[] = [];
  for (const item of list) {
    const c = checkCommand(item);
    if (typeof c === 'string') refused.push({ key: `command:${shown((item as { id?: unknown } | null)?.id)}:${c}`, message: `ignored ${c}; nothing run` });
    else commands.push(c);
  }
  return { state, drain, goal, version, maintenance, commands, refused, preset, loadBalanced };
}
