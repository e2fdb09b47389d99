import { InvariantError, ValidationError } from './errors.js';

/**
 * Fleetwarden's own lifecycle of an instance (not EC2's state). The transition table lives here and only here;
 * a transition that is not in it is a bug.
 */
export const LIFECYCLE_STATES = ['stopped', 'starting', 'initializing', 'running', 'draining', 'stopping', 'unuseable', 'excluded'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

const TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  stopped: ['starting', 'initializing', 'excluded'], // initializing: found running, started outside Fleetwarden
  starting: ['initializing', 'stopped', 'excluded'], // stopped: the start failed or was undone
  initializing: ['running', 'unuseable', 'stopping', 'stopped', 'excluded'], // stopping/stopped: stopped outside
  running: ['draining', 'stopping', 'stopped', 'excluded'], // stopping/stopped only when observed, never planned
  draining: ['stopping', 'running', 'stopped', 'excluded'], // running: the drain was cancelled (capacity needed)
  stopping: ['stopped', 'initializing', 'excluded'], // initializing: observed running again
  unuseable: ['draining', 'stopping', 'stopped', 'excluded'],
  excluded: ['stopped', 'initializing'], // back under management: re-derived from what is observed
};

export function isLifecycleState(value: unknown): value is LifecycleState {
  return typeof value === 'string' && (LIFECYCLE_STATES as readonly string[]).includes(value);
}

/** Reads a state from storage or input; unknown values are rejected, never coerced. */
export function parseLifecycleState(value: unknown, field: string): LifecycleState {
  if (!isLifecycleState(value)) throw new ValidationError(field, `unknown lifecycle state ${JSON.stringify(value)}; expected one of ${LIFECYCLE_STATES.join(', ')}`);
  return value;
}

export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws `InvariantError` for a transition that is not in the table. */
export function assertTransition(from: LifecycleState, to: LifecycleState, instanceId: string): void {
  if (!canTransition(from, to)) throw new InvariantError(`illegal lifecycle transition ${from} → ${to} for ${instanceId}`, { context: { from, to, instanceId } });
}

/** States in which an instance serves, or is about to serve, traffic: counted towards a fleet's target. */
export function isActive(state: LifecycleState): boolean {
  switch (state) {
    case 'starting':
    case 'initializing':
    case 'running':
      return true;
    case 'stopped':
    case 'draining':
    case 'stopping':
    case 'unuseable':
    case 'excluded':
      return false;
  }
}

export function transitionTable(): Readonly<Record<LifecycleState, readonly LifecycleState[]>> {
  return TRANSITIONS;
}
