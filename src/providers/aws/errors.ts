/**
 * AWS error codes → error kinds, one table per service (as Karpenter's pkg/errors does). This is the only place
 * that knows AWS error codes: adapters wrap every SDK error with `awsError(service, err)` at their boundary, and
 * everything above them decides on the `ProviderError`'s kind (domain/errors.ts).
 *
 * Codes are the SDK error's `name`: for modelled errors the SDK's exception name (ELBv2's wire code
 * `TargetGroupNotFound` arrives as `TargetGroupNotFoundException`), otherwise the wire code itself (`Throttling`).
 * Both spellings are listed where they differ, so a newer SDK that models one more error does not change its kind.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ErrorKind, FleetwardenError, ProviderError } from '../../domain/errors.js';

export type AwsService = 'ec2' | 'ssm' | 'elasticloadbalancing' | 'dynamodb' | 's3' | 'events' | 'sts';
type Table = Readonly<Record<string, ErrorKind>>;

/** Codes every AWS service may answer with (AWS "common errors"). */
const COMMON: Table = {
  Throttling: 'retryable',
  ThrottlingException: 'retryable',
  ThrottledException: 'retryable',
  TooManyRequestsException: 'retryable',
  RequestThrottled: 'retryable',
  RequestThrottledException: 'retryable',
  RequestLimitExceeded: 'retryable',
  InternalError: 'retryable',
  InternalFailure: 'retryable',
  InternalServerError: 'retryable',
  ServiceUnavailable: 'retryable',
  ServiceUnavailableException: 'retryable',
  Unavailable: 'retryable',
  RequestTimeout: 'retryable',
  RequestTimeoutException: 'retryable',
  AccessDenied: 'terminal',
  AccessDeniedException: 'terminal',
  UnauthorizedOperation: 'terminal',
  UnrecognizedClientException: 'terminal',
  InvalidClientTokenId: 'terminal',
  ExpiredToken: 'terminal',
  ExpiredTokenException: 'terminal',
  AuthFailure: 'terminal',
  SignatureDoesNotMatch: 'terminal',
  ValidationError: 'invalid-input',
  ValidationException: 'invalid-input',
  InvalidParameterValue: 'invalid-input',
  InvalidParameterCombination: 'invalid-input',
  MissingParameter: 'invalid-input',
};

/** EC2 (docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html). */
const EC2: Table = {
  RequestLimitExceeded: 'retryable',
  // Not retried within the tick: the start is recorded as a failure and the planner's error back-off tries again
  // on a later tick, when capacity may have come back (retrying at once only adds calls).
  InsufficientInstanceCapacity: 'terminal',
  InsufficientCapacity: 'terminal',
  IncorrectInstanceState: 'conflict',
  IncorrectState: 'conflict',
  'InvalidInstanceID.NotFound': 'not-found',
  'InvalidInstanceID.Malformed': 'invalid-input',
  UnsupportedOperation: 'terminal',
  UnauthorizedOperation: 'terminal',
};

/** SSM (docs.aws.amazon.com/systems-manager/latest/APIReference, each action's Errors). */
const SSM: Table = {
  ThrottlingException: 'retryable',
  TooManyUpdates: 'retryable',
  InternalServerError: 'retryable',
  // Not an instance SSM can send to: not found, not managed, or its agent is not running.
  InvalidInstanceId: 'not-found',
  InvocationDoesNotExist: 'not-found',
  InvalidCommandId: 'not-found',
  DoesNotExistException: 'not-found',
  InvalidResourceId: 'not-found',
  InvalidDocument: 'invalid-input',
  InvalidParameters: 'invalid-input',
  InvalidOutputFolder: 'invalid-input',
  InvalidNextToken: 'invalid-input',
  DuplicateInstanceId: 'invalid-input',
};

/** ELBv2 (docs.aws.amazon.com/elasticloadbalancing/latest/APIReference). */
const ELBV2: Table = {
  Throttling: 'retryable',
  TargetGroupNotFound: 'not-found',
  TargetGroupNotFoundException: 'not-found',
  LoadBalancerNotFound: 'not-found',
  LoadBalancerNotFoundException: 'not-found',
  // The target does not exist, is not in the target group's VPC, or has an unsupported instance type.
  InvalidTarget: 'invalid-input',
  InvalidTargetException: 'invalid-input',
  TooManyTargets: 'conflict',
  TooManyTargetsException: 'conflict',
};

/** DynamoDB (docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html and each action's Errors). */
const DYNAMODB: Table = {
  ProvisionedThroughputExceededException: 'retryable',
  ThrottlingException: 'retryable',
  RequestLimitExceeded: 'retryable',
  LimitExceededException: 'retryable',
  InternalServerError: 'retryable',
  ConditionalCheckFailedException: 'conflict',
  TransactionConflictException: 'conflict',
  TransactionCanceledException: 'conflict',
  ResourceNotFoundException: 'not-found',
  ItemCollectionSizeLimitExceededException: 'terminal',
};

/** S3 (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). */
const S3: Table = {
  SlowDown: 'retryable',
  InternalError: 'retryable',
  ServiceUnavailable: 'retryable',
  RequestTimeout: 'retryable',
  NoSuchKey: 'not-found',
  // The configured bucket does not exist: the configuration is wrong, not an object missing (which reads as null).
  NoSuchBucket: 'invalid-input',
  NotFound: 'not-found',
  AccessDenied: 'terminal',
  InvalidBucketName: 'invalid-input',
  KeyTooLongError: 'invalid-input',
};

/** EventBridge (docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html and CommonErrors). */
const EVENTS: Table = {
  ThrottlingException: 'retryable',
  InternalException: 'retryable',
  InternalFailure: 'retryable',
  ResourceNotFoundException: 'invalid-input', // the configured bus does not exist
};

/** STS AssumeRole (docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). */
const STS: Table = {
  AccessDenied: 'terminal',
  RegionDisabledException: 'terminal',
  ExpiredTokenException: 'terminal',
  MalformedPolicyDocumentException: 'invalid-input',
  PackedPolicyTooLargeException: 'invalid-input',
};

export const AWS_ERRORS: Readonly<Record<AwsService, Table>> = { ec2: EC2, ssm: SSM, elasticloadbalancing: ELBV2, dynamodb: DYNAMODB, s3: S3, events: EVENTS, sts: STS };

/** Node's network errors: the request may not have reached AWS, or its answer was lost. */
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'TimeoutError', 'AbortError']);

/** The kind of an AWS error code for a service; an unknown code is retryable only if AWS called it a server fault. */
export function awsErrorKind(service: AwsService, code: string, fault?: string, httpStatus?: number): ErrorKind {
  const known = AWS_ERRORS[service][code] ?? COMMON[code];
  if (known !== undefined) return known;
  if (NETWORK.has(code)) return 'retryable';
  if (fault === 'server' || (httpStatus !== undefined && httpStatus >= 500)) return 'retryable';
  if (httpStatus === 404) return 'not-found';
  return 'terminal';
}

/** Wraps whatever an SDK call threw into a ProviderError (an already mapped error passes through). */
export function awsError(service: AwsService, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown } };
  // Node's network errors carry their errno name in `code` (the SDK passes them on as they are).
  const code = typeof e.code === 'string' && NETWORK.has(e.code) ? e.code : typeof e.name === 'string' && e.name !== '' && e.name !== 'Error' ? e.name : 'UnknownError';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  return new ProviderError(awsErrorKind(service, code, typeof e.$fault === 'string' ? e.$fault : undefined, status), service, code, message, { cause: err });
}

/** Runs one SDK call, mapping its error at the boundary (our own errors, such as a ValidationError of a key, pass as they are). */
export async function awsCall<T>(service: AwsService, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof FleetwardenError ? err : awsError(service, err);
  }
}

/**
 * Maps the errors of every call the DynamoDB store's client makes: the store may not import from providers/
 * (eslint.config.js layers), so the composition root (app/aws.ts) installs this on its client. It runs first in
 * the middleware stack, so it sees the error the SDK's own retries ended with.
 */
export function mapDynamoDbErrors(client: DynamoDBClient): DynamoDBClient {
  client.middlewareStack.add((next) => (args) => awsCall('dynamodb', () => next(args)), { step: 'initialize', name: 'fleetwardenErrors', override: true });
  return client;
}
