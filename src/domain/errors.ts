/**
 * One small error hierarchy (docs/development.md, rule 4). User mistakes are `ValidationError`s that name the field
 * and the reason, so the CLI and API can print them without a stack trace.
 */
export class FleetwardenError extends Error {
  override readonly name: string = 'FleetwardenError';
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.context = options.context ?? {};
  }
}

/** Input that a user can fix: names the field (a path such as `groups[0].fleets.main.min`) and the reason. */
export class ValidationError extends FleetwardenError {
  override readonly name: string = 'ValidationError';
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(field === '' ? reason : `${field}: ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}

/** A request that is well formed but does not fit the current state (cancelling an execution that has ended): HTTP 409. */
export class ConflictError extends ValidationError {
  override readonly name: string = 'ConflictError';
}

/** A schedule expression or window definition that cannot be parsed or is not allowed. */
export class ScheduleError extends ValidationError {
  override readonly name: string = 'ScheduleError';
}

/** Several validation problems found at once; nothing was applied. */
export class ValidationErrors extends FleetwardenError {
  override readonly name: string = 'ValidationErrors';
  readonly issues: readonly ValidationError[];

  constructor(issues: readonly ValidationError[]) {
    super(issues.map((i) => i.message).join('\n'));
    this.issues = issues;
  }
}

/** A bug: an internal invariant was broken. Never caused by user input. */
export class InvariantError extends FleetwardenError {
  override readonly name: string = 'InvariantError';
}

/**
 * This controller no longer holds the group's lease (another controller took it over, or it could not be renewed):
 * whatever it was doing for the group is abandoned, unwritten and unsent (docs/development.md, rule 9).
 */
export class LeaseLostError extends FleetwardenError {
  override readonly name: string = 'LeaseLostError';
  readonly group: string;

  constructor(group: string, message: string) {
    super(`group ${group}: ${message}`, { context: { group } });
    this.group = group;
  }
}

export function isUserError(err: unknown): err is ValidationError | ValidationErrors {
  return err instanceof ValidationError || err instanceof ValidationErrors;
}
