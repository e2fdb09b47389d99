/**
 * The drain handshake (docs/agent.md#drain-handshake): what the controller wants an instance's agent to apply (its
 * goal), and what the agent reports it has applied (its acknowledgement). The controller moves an instance on —
 * runs a task on it, counts it as serving — only on an acknowledgement that matches the goal it set, so a block or
 * an unblock is never assumed from the controller's own decision.
 *
 * Both sides import this module: the agent (a single file with no controller code) and the controller.
 */

/** The ports the agent guards: new connections refused (`blocked`) or accepted (`open`). */
export type PortsGoal = 'blocked' | 'open';
/** The agent's health answer (health port, health file): `fail` makes the load balancer take the instance out. */
export type HealthGoal = 'pass' | 'fail';

export interface AgentGoal {
  readonly ports: PortsGoal;
  readonly health: HealthGoal;
  /** Changes whenever the goal is set anew: an acknowledgement counts only for the version it names. */
  readonly version: string;
}

/**
 * What an agent has applied. `none`: the agent guards no port (no `--on-draining-block-new-connections-to-ports`),
 * or serves no health answer (no `--health-port`/`--health-file`): there is nothing to apply, so any goal is met.
 * `stand-aside` (ports): the seed watcher's rule — behind a target group outside a subfleet the load balancer
 * drains, the agent leaves the ports open (preset clonesquad without --force).
 */
export const ACK_PORTS = ['blocked', 'open', 'none', 'stand-aside'] as const;
export type AckPorts = (typeof ACK_PORTS)[number];
export const ACK_HEALTH = ['pass', 'fail', 'none'] as const;
export type AckHealth = (typeof ACK_HEALTH)[number];

export interface AgentAck {
  readonly instanceId: string;
  readonly group: string;
  /** The goal version the agent acted on. */
  readonly version: string;
  readonly ports: AckPorts;
  readonly health: AckHealth;
  /** The lifecycle state the agent acted on (state scripts), as it was told. */
  readonly state: string | null;
  /** The last hook (`take-out`/`put-back`) scripts the agent ran for this version, with their outcome. */
  readonly hooks?: readonly { readonly name: string; readonly outcome: string }[];
  /** When the controller received it (its clock, not the agent's). */
  readonly at: number;
}

/** Whether the ports as applied meet the goal: blocked for `blocked`; open for `open` (nothing guarded meets both). */
export function portsMeet(applied: AckPorts, goal: PortsGoal): boolean {
  if (applied === 'none' || applied === 'stand-aside') return true;
  return applied === goal;
}

export function healthMeets(applied: AckHealth, goal: HealthGoal): boolean {
  return applied === 'none' || applied === goal;
}

/** An acknowledgement of exactly this goal: the same version, both parts applied. */
export function confirms(ack: AgentAck | undefined, goal: AgentGoal): boolean {
  return ack !== undefined && ack.version === goal.version && portsMeet(ack.ports, goal.ports) && healthMeets(ack.health, goal.health);
}

/**
 * Whether an agent's last report says the instance takes new work: ports open and health passing, reported within
 * `freshMs` — a silent agent's last word is not taken for the present.
 */
export function reportsServing(ack: AgentAck | undefined, now: number, freshMs: number): boolean {
  return ack !== undefined && now - ack.at <= freshMs && portsMeet(ack.ports, 'open') && healthMeets(ack.health, 'pass');
}
