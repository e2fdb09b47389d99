/**
 * The AWS side of the composition root, in a module of its own: it is imported (and with it the AWS SDK) only
 * when the configuration asks for AWS. Credentials and region come from the SDK's default chain; the standard
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables point it at LocalStack or moto.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { FleetConfig } from '../config/config.js';
import type { Clock } from '../domain/time.js';
import type { CommandRunner, FleetProvider, LoadBalancer, ObjectStore, Store, WindowSource } from '../ports/index.js';
import { Ec2Provider } from '../providers/aws/ec2.js';
import { Elbv2LoadBalancer } from '../providers/aws/elbv2.js';
import { SsmAdapter } from '../providers/aws/ssm.js';
import { S3ObjectStore } from '../providers/aws/s3.js';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoStore } from '../store/dynamodb/store.js';

export interface AwsPorts {
  readonly provider: FleetProvider;
  readonly lb: LoadBalancer;
  readonly runner: CommandRunner;
  readonly windowSource: WindowSource;
  /** Full task outputs in S3 when aws.outputBucket is set. */
  readonly objects: ObjectStore | null;
}

/** Adaptive retry: the SDK slows down under throttling by itself, before our back-off and jitter. */
function clientConfig(config: FleetConfig): { region?: string; retryMode: 'adaptive' } {
  return { retryMode: 'adaptive', ...(config.aws.region === undefined ? {} : { region: config.aws.region }) };
}

export function awsPorts(config: FleetConfig, clock: Clock): AwsPorts {
  const ssm = new SsmAdapter({
    client: new SSMClient(clientConfig(config)),
    clock,
    naming: config.naming,
    ...(config.aws.outputBucket === undefined ? {} : { outputBucket: config.aws.outputBucket }),
    ...(config.aws.outputPrefix === undefined ? {} : { outputPrefix: config.aws.outputPrefix }),
  });
  return {
    provider: new Ec2Provider({ client: new EC2Client(clientConfig(config)), clock, hibernate: config.aws.hibernate }),
    lb: new Elbv2LoadBalancer({ client: new ElasticLoadBalancingV2Client(clientConfig(config)), clock, groupTagKey: `${config.naming.tagPrefix}:group-name` }),
    runner: ssm,
    windowSource: ssm,
    objects: config.aws.outputBucket === undefined ? null : new S3ObjectStore({ bucket: config.aws.outputBucket, prefix: config.aws.outputPrefix ?? 'fleetwarden/', client: new S3Client(clientConfig(config)) }),
  };
}

export function dynamoStore(config: FleetConfig): Store {
  return new DynamoStore({ table: config.store.table ?? '', client: new DynamoDBClient(clientConfig(config)) });
}
