/**
 * The AWS side of the composition root, in a module of its own: it is imported (and with it the AWS SDK) only
 * when the configuration asks for AWS. Credentials and region come from the SDK's default chain; the standard
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables point it at LocalStack or moto.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgeSink } from '../providers/aws/eventbridge.js';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { FleetConfig, GroupConfig } from '../config/config.js';
import type { ObservedInstance } from '../domain/model.js';
import { assignGroups } from '../planner/inspect.js';
import { arnAccount, DEFAULT_REGION, regionOf, RegionalFleet, RegionalLoadBalancer, RegionalRunner } from '../providers/aws/regions.js';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Clock } from '../domain/time.js';
import type { CommandRunner, FleetProvider, LoadBalancer, ObjectStore, Store, WindowSource } from '../ports/index.js';
import { Ec2Provider } from '../providers/aws/ec2.js';
import { Elbv2LoadBalancer } from '../providers/aws/elbv2.js';
import { SsmAdapter } from '../providers/aws/ssm.js';
import { S3ObjectStore } from '../providers/aws/s3.js';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoStore } from '../store/dynamodb/store.js';
import { AGENT_COMMAND_RETENTION_MS } from '../reconciler/reconciler.js';
import { mapDynamoDbErrors } from '../providers/aws/errors.js';

export interface AwsPorts {
  readonly provider: FleetProvider;
  readonly lb: LoadBalancer;
  readonly runner: CommandRunner;
  readonly windowSource: WindowSource;
  /** Full task outputs in S3 when aws.outputBucket is set. */
  readonly objects: ObjectStore | null;
}

/** What tests pass to every client: an endpoint (a local fake), credentials, attempts. Empty in production. */
export interface SdkOverrides {
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly maxAttempts?: number;
}

/**
 * One retry layer per call path (issue 16: the SDK's adaptive retries under ours turned one throttled call into ~18
 * attempts, and a tick could outlast its lease):
 * - `provider`: EC2, ELBv2, SSM and S3 make one attempt a call. The reconciler's withRetry (reconciler/executor.ts)
 *   is the only layer: it backs off with jitter, checks the lease before every attempt, records each retry in the
 *   history, and stops at the tick's deadline — none of which the SDK's retries can do. Elsewhere (the API, the
 *   CLI) a throttled call fails at once as a retryable error (HTTP 503 with Retry-After).
 * - `store`: DynamoDB keeps the SDK's adaptive retries (3 attempts): the store's calls go through no retry of ours,
 *   so the SDK's is their one layer.
 */
function clientConfig(config: FleetConfig, region: string | undefined = config.aws.region, sdk: SdkOverrides = {}, path: 'provider' | 'store' = 'provider'): { region?: string; retryMode: 'adaptive' | 'standard'; maxAttempts: number } & SdkOverrides {
  const retry = path === 'provider' ? { retryMode: 'standard' as const, maxAttempts: 1 } : { retryMode: 'adaptive' as const, maxAttempts: 3 };
  return { ...retry, ...(region === undefined ? {} : { region }), ...sdk };
}

/**
 * The AWS ports. Groups run in `aws.region` (or the SDK's default region) unless a workload names its own `region`
 * (seed 003): each region used gets its own EC2 and ELBv2 adapters, and each (region, SSM output bucket) its own SSM
 * adapter; the composites in providers/aws/regions.ts route every call. Window discovery reads the default region.
 */
export function awsPorts(config: FleetConfig, clock: Clock, sdk: SdkOverrides = {}): AwsPorts {
  // Location keys: DEFAULT_REGION, a region (the controller's own account), or a spoke (region, role, external id).
  const locations = new Map<string, Location>([[DEFAULT_REGION, { region: config.aws.region, roleArn: null, externalId: null }]]);
  const groupsAt = new Map<string, GroupConfig[]>([[DEFAULT_REGION, []]]);
  for (const g of config.groups) {
    const key = locationOf(g, config.aws.region);
    if (!locations.has(key)) locations.set(key, { region: g.aws.region ?? config.aws.region, roleArn: g.aws.roleArn, externalId: g.aws.externalId });
    groupsAt.set(key, [...(groupsAt.get(key) ?? []), g]);
  }
  // One client configuration per location, so groups sharing an account and region share clients and credentials.
  const clientsAt = new Map([...locations].map(([key, at]) => [key, locationClientConfig(config, at, sdk)]));
  const clientAt = (key: string): ClientConfig => clientsAt.get(key) ?? clientConfig(config, config.aws.region, sdk);

  const ssmAdapters = new Map<string, SsmAdapter>();
  const ssmFor = (key: string, output: { bucket: string; prefix: string | undefined } | null): SsmAdapter => {
    const id = JSON.stringify([key, output?.bucket ?? null, output?.prefix ?? null]);
    let adapter = ssmAdapters.get(id);
    if (adapter === undefined) {
      adapter = new SsmAdapter({ client: new SSMClient(clientAt(key)), clock, naming: config.naming, ...(output === null ? {} : { outputBucket: output.bucket, ...(output.prefix === undefined ? {} : { outputPrefix: output.prefix }) }) });
      ssmAdapters.set(id, adapter);
    }
    return adapter;
  };
  const defaultOutput = config.aws.outputBucket === undefined ? null : { bucket: config.aws.outputBucket, prefix: config.aws.outputPrefix };
  const ssm = ssmFor(DEFAULT_REGION, defaultOutput);
  const runners = new Map<string, SsmAdapter>(config.groups.map((g) => [g.name, ssmFor(locationOf(g, config.aws.region), g.workload?.ssmOutput ?? defaultOutput)]));

  const providers = new Map([...locations.keys()].map((k) => [k, new Ec2Provider({ client: new EC2Client(clientAt(k)), clock, hibernate: config.aws.hibernate })]));
  const lbs = new Map([...locations.keys()].map((k) => [k, new Elbv2LoadBalancer({ client: new ElasticLoadBalancingV2Client(clientAt(k)), clock, groupTagKey: `${config.naming.tagPrefix}:group-name` })]));
  const single = locations.size === 1;
  const keep = (key: string, listed: readonly ObservedInstance[]): Set<string> => new Set([...assignGroups(listed, groupsAt.get(key) ?? [], config.naming).byGroup.values()].flat().map((i) => i.id));
  const names = (key: string): string[] => (groupsAt.get(key) ?? []).map((g) => g.name);
  // A target group in a spoke's account goes to that spoke's adapter (of its region); any other by its region.
  const route = (arn: string): string | null => {
    const account = arnAccount(arn);
    const region = /^arn:[^:]+:elasticloadbalancing:([^:]+):/.exec(arn)?.[1];
    for (const [key, at] of locations) if (at.roleArn !== null && roleAccount(at.roleArn) === account && (at.region ?? config.aws.region) === region) return key;
    return null;
  };
  return {
    // One location (the usual case): the adapters themselves, exactly as before.
    provider: single ? (providers.get(DEFAULT_REGION) as Ec2Provider) : new RegionalFleet(providers, keep, names),
    lb: single ? (lbs.get(DEFAULT_REGION) as Elbv2LoadBalancer) : new RegionalLoadBalancer(lbs, config.aws.region, route, names),
    runner: ssmAdapters.size === 1 ? ssm : new RegionalRunner(runners, ssm),
    windowSource: ssm,
    objects: config.aws.outputBucket === undefined ? null : new S3ObjectStore({ bucket: config.aws.outputBucket, prefix: config.aws.outputPrefix ?? 'fleetwarden/', client: new S3Client(clientConfig(config, config.aws.region, sdk)) }),
  };
}

/** Where a group's calls go: a region, and the role they are made with (null: the controller's own credentials). */
interface Location {
  readonly region: string | undefined;
  readonly roleArn: string | null;
  readonly externalId: string | null;
}

/** A group's location key: its region key (regions.ts) in the controller's account, or its spoke (region, role, id). */
export function locationOf(g: GroupConfig, defaultRegion: string | undefined): string {
  if (g.aws.roleArn === null) return regionOf(g, defaultRegion);
  return JSON.stringify([g.aws.region ?? defaultRegion ?? '', g.aws.roleArn, g.aws.externalId]);
}

function roleAccount(roleArn: string): string | null {
  return /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1] ?? null;
}

/**
 * A location's client configuration. A spoke's credentials are the role's, assumed through STS (session name
 * `fleetwarden`, the ExternalId its trust policy asks) with the controller's own credentials, and refreshed by the SDK
 * before they expire. STS is called in the spoke's region (regional endpoints: no dependency on us-east-1).
 */
type ClientConfig = Omit<ReturnType<typeof clientConfig>, 'credentials'> & { credentials?: NonNullable<SdkOverrides['credentials']> | AwsCredentialIdentityProvider };
function locationClientConfig(config: FleetConfig, at: Location, sdk: SdkOverrides): ClientConfig {
  const base: ClientConfig = clientConfig(config, at.region, sdk);
  if (at.roleArn === null) return base;
  const credentials = fromTemporaryCredentials({
    params: { RoleArn: at.roleArn, RoleSessionName: 'fleetwarden', ...(at.externalId === null ? {} : { ExternalId: at.externalId }) },
    ...(sdk.credentials === undefined ? {} : { masterCredentials: sdk.credentials }),
    clientConfig: { ...(at.region === undefined ? {} : { region: at.region }), ...(sdk.endpoint === undefined ? {} : { endpoint: sdk.endpoint }), maxAttempts: 1 },
  });
  return { ...base, credentials };
}

/** Events out to EventBridge: the default bus of the controller's account and aws.region unless busName says. */
export function eventBridgeSink(config: FleetConfig, sdk: SdkOverrides = {}): EventBridgeSink {
  return new EventBridgeSink({ client: new EventBridgeClient(clientConfig(config, config.aws.region, sdk)), busName: config.events.eventBridge?.busName });
}

/**
 * The DynamoDB store. Every writer — `run`, the Lambda worker, a CLI command, the API — writes the TTL attribute on
 * history entries and agent commands (at + controller.historyRetention, + a day): a table with TTL enabled (the
 * Lambda deployment, infra/) then expires every row, not only the worker's, and on a table without TTL the attribute
 * is inert (`run`'s prune scans delete as before). Whether the prune scans are skipped is the controller's own
 * option (OpenOptions.expiresItself), not the store's.
 */
export function dynamoStore(config: FleetConfig): Store {
  // The store may not import providers/ (eslint.config.js layers): its client's errors are mapped here.
  const expireAfter = { historyMs: config.controller.historyRetentionMs, agentCommandsMs: AGENT_COMMAND_RETENTION_MS };
  return new DynamoStore({ table: config.store.table ?? '', client: mapDynamoDbErrors(new DynamoDBClient(clientConfig(config, config.aws.region, {}, 'store'))), expireAfter });
}
