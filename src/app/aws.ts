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
import { DEFAULT_REGION, regionOf, RegionalFleet, RegionalLoadBalancer, RegionalRunner } from '../providers/aws/regions.js';
import type { Clock } from '../domain/time.js';
import type { CommandRunner, FleetProvider, LoadBalancer, ObjectStore, Store, WindowSource } from '../ports/index.js';
import { Ec2Provider } from '../providers/aws/ec2.js';
import { Elbv2LoadBalancer } from '../providers/aws/elbv2.js';
import { SsmAdapter } from '../providers/aws/ssm.js';
import { S3ObjectStore } from '../providers/aws/s3.js';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoStore } from '../store/dynamodb/store.js';
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
  const regionName = (key: string): string | undefined => (key === DEFAULT_REGION ? config.aws.region : key);
  const groupsByRegion = new Map<string, GroupConfig[]>([[DEFAULT_REGION, []]]);
  for (const g of config.groups) groupsByRegion.set(regionOf(g, config.aws.region), [...(groupsByRegion.get(regionOf(g, config.aws.region)) ?? []), g]);

  const ssmAdapters = new Map<string, SsmAdapter>();
  const ssmFor = (region: string, output: { bucket: string; prefix: string | undefined } | null): SsmAdapter => {
    const key = JSON.stringify([region, output?.bucket ?? null, output?.prefix ?? null]);
    let adapter = ssmAdapters.get(key);
    if (adapter === undefined) {
      adapter = new SsmAdapter({ client: new SSMClient(clientConfig(config, regionName(region), sdk)), clock, naming: config.naming, ...(output === null ? {} : { outputBucket: output.bucket, ...(output.prefix === undefined ? {} : { outputPrefix: output.prefix }) }) });
      ssmAdapters.set(key, adapter);
    }
    return adapter;
  };
  const defaultOutput = config.aws.outputBucket === undefined ? null : { bucket: config.aws.outputBucket, prefix: config.aws.outputPrefix };
  const ssm = ssmFor(DEFAULT_REGION, defaultOutput);
  const runners = new Map<string, SsmAdapter>(config.groups.map((g) => [g.name, ssmFor(regionOf(g, config.aws.region), g.workload?.ssmOutput ?? defaultOutput)]));

  const providers = new Map([...groupsByRegion.keys()].map((r) => [r, new Ec2Provider({ client: new EC2Client(clientConfig(config, regionName(r), sdk)), clock, hibernate: config.aws.hibernate })]));
  const lbs = new Map([...groupsByRegion.keys()].map((r) => [r, new Elbv2LoadBalancer({ client: new ElasticLoadBalancingV2Client(clientConfig(config, regionName(r), sdk)), clock, groupTagKey: `${config.naming.tagPrefix}:group-name` })]));
  const single = groupsByRegion.size === 1;
  const keep = (region: string, listed: readonly ObservedInstance[]): Set<string> => new Set([...assignGroups(listed, groupsByRegion.get(region) ?? [], config.naming).byGroup.values()].flat().map((i) => i.id));
  return {
    // One region (the usual case): the adapters themselves, exactly as before.
    provider: single ? (providers.get(DEFAULT_REGION) as Ec2Provider) : new RegionalFleet(providers, keep),
    lb: single ? (lbs.get(DEFAULT_REGION) as Elbv2LoadBalancer) : new RegionalLoadBalancer(lbs, config.aws.region),
    runner: ssmAdapters.size === 1 ? ssm : new RegionalRunner(runners, ssm),
    windowSource: ssm,
    objects: config.aws.outputBucket === undefined ? null : new S3ObjectStore({ bucket: config.aws.outputBucket, prefix: config.aws.outputPrefix ?? 'fleetwarden/', client: new S3Client(clientConfig(config, config.aws.region, sdk)) }),
  };
}

/** Events out to EventBridge: the default bus of the controller's account and aws.region unless busName says. */
export function eventBridgeSink(config: FleetConfig, sdk: SdkOverrides = {}): EventBridgeSink {
  return new EventBridgeSink({ client: new EventBridgeClient(clientConfig(config, config.aws.region, sdk)), busName: config.events.eventBridge?.busName });
}

export function dynamoStore(config: FleetConfig): Store {
  // The store may not import providers/ (eslint.config.js layers): its client's errors are mapped here.
  return new DynamoStore({ table: config.store.table ?? '', client: mapDynamoDbErrors(new DynamoDBClient(clientConfig(config, config.aws.region, {}, 'store'))) });
}
