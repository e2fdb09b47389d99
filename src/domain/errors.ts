/**
 * One small error hierarchy (docs/development.md, rule 4). User mistakes are `ValidationError`s that name the field
 * and the reason, so the CLI and API can print them without a stack trace.
 *
 * Every error has a `kind`, and callers decide on the kind, never on a name or a provider's error code:
 * - `invalid-input`: the request or the data is wrong; asking again the same way fails the same way (HTTP 400).
 * - `not-found`: the thing asked about does not exist (HTTP 404).
 * - `conflict`: well formed, but does not fit the current state (another writer, an instance in the wrong state) (HTTP 409).
 * - `retryable`: transient (throttling, a server fault, the network): the same call may succeed later (HTTP 503).
 * - `terminal`: anything else — permissions, bugs, unknown failures: retrying will not help (HTTP 500).
 */
export type ErrorKind = 'invalid-input' | 'not-found' | 'conflict' | 'retryable' | 'terminal';

export interface ErrorOptions {
  readonly cause?: unknown;
  readonly context?: Record<string, unknown>;
  /** Overrides the class's own kind (a subclass's default is the usual one). */
  readonly kind?: ErrorKind;
}

export class FleetwardenError extends Error {
  override readonly name: string = 'FleetwardenError';
  readonly kind: ErrorKind;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, options: ErrorOptions = {}, defaultKind: ErrorKind = 'terminal') {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind ?? defaultKind;
    this.context = options.context ?? {};
  }
}

/** The kind of any thrown value: errors outside the hierarchy (a bug, a library's TypeError) are terminal. */
export function errorKind(err: unknown): ErrorKind {
  return err instanceof FleetwardenError ? err.kind : 'terminal';
}

/** A thing asked for by name or id that does not exist. */
export class NotFoundError extends FleetwardenError {
  override readonly name: string = 'NotFoundError';
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options, 'not-found');
  }
}

/**
 * A cloud provider's answer, mapped at the adapter's boundary (providers/aws/errors.ts has one table per service):
 * `service` and `code` say what answered and how, for messages and logs; decisions are taken on `kind` alone.
 */
export class ProviderError extends FleetwardenError {
  override readonly name: string = 'ProviderError';
  readonly service: string;
  readonly code: string;
  constructor(kind: ErrorKind, service: string, code: string, message: string, options: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, { ...options, kind, context: { service, code } });
    this.service = service;
    this.code = code;
  }
}

/** Input that a user can fix: names the field (a path such as `groups[0].fleets.main.min`) and the reason. */
export class ValidationError extends FleetwardenError {
  override readonly name: string = 'ValidationError';
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string, options: ErrorOptions = {}) {
    super(field === '' ? reason : `${field}: ${reason}`, options, 'invalid-input');
    this.field = field;
    this.reason = reason;
  }
}

/** A request that is well formed but does not fit the current state (cancelling an execution that has ended): HTTP 409. */
export class ConflictError extends ValidationError {
  override readonly name: string = 'ConflictError';
  constructor(field: string, reason: string, options: ErrorOptions = {}) {
    super(field, reason, { kind: 'conflict', ...options });
  }
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
    super(issues.map((i) => i.message).join('\n'), {}, 'invalid-input');
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
    // Another controller holds the group now: a conflict with the current state, not worth retrying in this tick.
    super(`group ${group}: ${message}`, { context: { group } }, 'conflict');
    this.group = group;
  }
}

export function isUserError(err: unknown): err is ValidationError | ValidationErrors {
  return err instanceof ValidationError || err instanceof ValidationErrors;
}
