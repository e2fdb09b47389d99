/**
 * Groups in other accounts (hub and spoke): the controller assumes each group's `aws.roleArn` through STS
 * (fromTemporaryCredentials in app/aws.ts). Declared here, as every adapter declares its calls, so that
 * `fleetwarden aws iam-policy` grants sts:AssumeRole on exactly the configured roles.
 */
import type { AwsCall } from '../../ports/aws-calls.js';

export const STS_CALLS: readonly AwsCall[] = [{ service: 'sts', operation: 'AssumeRole', action: 'sts:AssumeRole', features: ['spoke-roles'], resource: { kind: 'spoke-roles' }, mutating: false }];
