/**
 * The AWS calls an adapter makes, declared beside it (EC2_CALLS in ec2.ts, SSM_CALLS in ssm.ts, ...): the IAM policy
 * (`fleetwarden aws iam-policy`, app/iam-policy.ts) is generated from these declarations and the features a configuration
 * uses, and a test proves every call the adapters make on the wire is declared and granted. A new call is one more
 * line in its adapter's table. No SDK here: the types are shared with the store and the CLI.
 */

/** What in a configuration makes the controller call AWS (app/iam-policy.ts says how a configuration turns each on). */
export const AWS_FEATURES = ['fleet', 'window-discovery', 'events', 'maintenance-tasks', 'output-bucket', 'state-table', 'event-bus', 'spoke-roles'] as const;
export type AwsFeature = (typeof AWS_FEATURES)[number];

/**
 * What an IAM statement may name for a call. Only read-only calls may be on `any` (IAM cannot narrow most
 * Describe/List calls); every mutating call names its resources, and those of the fleet carry the group tag.
 */
export type AwsResource =
  | { readonly kind: 'any' }
  /** EC2 instances tagged `<prefix>:group-name` with one of the configuration's groups, or a workload's envFilterTag. */
  | { readonly kind: 'group-instances' }
  /** ELBv2 target groups tagged likewise. */
  | { readonly kind: 'group-target-groups' }
  /** An AWS-owned SSM document, by name. */
  | { readonly kind: 'document'; readonly name: string }
  /**
   * The documents the configuration's maintenance tasks run: AWS-RunShellScript for a `command` and for health
   * checks, and each task's own `document` (by name, or the ARN it gives).
   */
  | { readonly kind: 'task-documents' }
  /** The output bucket itself (listing). */
  | { readonly kind: 'output-bucket' }
  /** Objects under the output prefix. */
  | { readonly kind: 'output-objects' }
  /** The DynamoDB state table. */
  | { readonly kind: 'state-table' }
  /** The EventBridge bus events are published to (events.eventBridge). */
  | { readonly kind: 'event-bus' }
  /** The roles of other accounts the groups name (`groups[].aws.roleArn`). */
  | { readonly kind: 'spoke-roles' };

export interface AwsCall {
  /** The service as it signs its requests (SigV4 scope), which is also its IAM prefix. */
  readonly service: 'ec2' | 'elasticloadbalancing' | 'ssm' | 's3' | 'dynamodb' | 'events' | 'sts';
  /** The operation as it goes on the wire (the API's name, e.g. `ListObjectsV2`). */
  readonly operation: string;
  /** The IAM action it needs (not always `service:operation`: ListObjectsV2 needs s3:ListBucket). */
  readonly action: string;
  /** Features that make the call; it is granted when the configuration uses one of them. */
  readonly features: readonly AwsFeature[];
  readonly resource: AwsResource;
  /** Changes something (start, stop, register, send a command, write): never on `any`. */
  readonly mutating: boolean;
}
