/**
 * What both Lambda handlers share: the configuration of the deployment and the controller built from it.
 *
 * The configuration file is bundled into the functions' code (infra/ copies it next to the handlers): a change of
 * configuration is a deployment — reviewed, versioned with the stack, validated at synth time, rolled back with it —
 * and an invocation reads no parameter or object before it can work. Run-time overrides stay in DynamoDB. What only
 * the stack knows is given in the environment: the table, the output bucket, the worker's name.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Controller, openController } from '../app/compose.js';
import type { FleetConfig } from '../config/config.js';
import { loadConfigFile } from '../config/load.js';
import { ValidationError } from '../domain/errors.js';

/** The environment the stack sets (infra/fleetwarden.ts). */
export const ENV = {
  /** The configuration file; default fleetwarden.yaml next to the handler. */
  config: 'FLEETWARDEN_CONFIG',
  /** The DynamoDB table (store.kind is dynamodb in the deployment, whatever the file says). */
  table: 'FLEETWARDEN_TABLE',
  /** The S3 bucket for full task outputs (aws.outputBucket). */
  outputBucket: 'FLEETWARDEN_OUTPUT_BUCKET',
  /** The worker function the scheduler invokes. */
  worker: 'FLEETWARDEN_WORKER',
} as const;

function here(): string {
  try {
    return join(fileURLToPath(import.meta.url), '..');
  } catch {
    return process.cwd();
  }
}

let loaded: FleetConfig | undefined;

/** The deployment's configuration, read once per container. */
export function deploymentConfig(env: NodeJS.ProcessEnv = process.env): FleetConfig {
  if (loaded !== undefined) return loaded;
  const file = loadConfigFile(env[ENV.config] ?? join(here(), 'fleetwarden.yaml'));
  const table = env[ENV.table];
  if (table === undefined || table === '') throw new ValidationError(ENV.table, 'not set: the worker keeps its state in the stack’s DynamoDB table');
  if (file.provider !== 'aws') throw new ValidationError('provider', `is ${file.provider}; the Lambda deployment runs provider: aws`);
  const bucket = env[ENV.outputBucket];
  loaded = {
    ...file,
    store: { kind: 'dynamodb', table },
    aws: { ...file.aws, ...(bucket === undefined || bucket === '' ? {} : { outputBucket: bucket }) },
  };
  return loaded;
}

/** This container's name as a lease owner: one invocation at a time runs in a container, so it names the worker. */
export const containerOwner = `lambda:${process.env['AWS_LAMBDA_LOG_STREAM_NAME'] ?? randomUUID()}`;

let controller: Promise<Controller> | undefined;

/** The controller, kept across warm invocations (its cache is only trusted while the lease was held without a break). */
export function deploymentController(): Promise<Controller> {
  controller ??= openController(deploymentConfig(), { stateDir: '', owner: containerOwner, expiresItself: true, onEvent: (e) => {
      console.log(JSON.stringify(e));
    } }).catch((err: unknown) => {
    // A failed start (a bad bundled configuration, a throttled first call) is tried again by the next invocation,
    // not kept for the container's life.
    controller = undefined;
    throw err;
  });
  return controller;
}

/**
 * How long the scheduler may leave a group at rest unreconciled at most (FLEETWARDEN_REST_MAX_MS, default 5 minutes):
 * a change the store does not see (an instance stopped by hand, a new instance tagged) is noticed within it.
 */
export function restMaxMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['FLEETWARDEN_REST_MAX_MS'];
  if (raw === undefined || raw === '') return 5 * 60_000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new ValidationError('FLEETWARDEN_REST_MAX_MS', `is ${JSON.stringify(raw)}; it must be a number of milliseconds ≥ 0`);
  return n;
}

/** A stable spread of a name over [0, spanMs): 1,000 groups do not reach EC2 in the same second. FNV-1a. */
export function offsetOf(name: string, spanMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return spanMs <= 0 ? 0 : h % Math.floor(spanMs);
}
