/**
 * `--iam`: the operator's own AWS identity instead of a token. The CLI signs `sts:GetCallerIdentity` with the
 * operator's credentials (the SDK's default chain: environment, profile, SSO, instance role), for the API's server id,
 * and hands the signed request to `POST /v1/auth/operator`; the API sends it to STS, learns the role, and answers
 * with a short-lived admin or viewer token (controller.operatorIam). Nothing is stored on disk, and the credentials
 * never leave this process: only a signature that is good for one GetCallerIdentity call does.
 */
import type { z } from 'zod';
import { regionalStsEndpoint, stsRegionOf } from '../agent/auth.js';
import { type AwsCredentials, signCallerIdentity } from '../agent/sigv4.js';
import { operatorLoginJson } from '../api/wire.js';
import { FleetwardenError } from '../domain/errors.js';
import { UsageError } from './io.js';

export interface OperatorLoginOptions {
  /** The audience signed into the login [the --url's HOST[:PORT]]. */
  readonly serverId?: string | undefined;
  /** STS to sign for [FLEETWARDEN_STS_ENDPOINT, else the regional endpoint of AWS_REGION, else us-east-1's]. */
  readonly stsEndpoint?: string | undefined;
  readonly credentials?: () => Promise<AwsCredentials>;
  readonly now?: () => number;
  readonly env?: NodeJS.ProcessEnv;
}

/** A token from the API's operator login, for the caller's AWS identity. */
export async function operatorToken(url: string, o: OperatorLoginOptions = {}): Promise<string> {
  return (await operatorLogin(url, o)).token;
}

/** The API's operator login for the caller's AWS identity: the token, its role and expiry. */
export async function operatorLogin(url: string, o: OperatorLoginOptions = {}): Promise<z.output<typeof operatorLoginJson>> {
  const env = o.env ?? process.env;
  const base = url.replace(/\/+$/, '');
  const serverId = o.serverId ?? env['FLEETWARDEN_SERVER_ID'] ?? new URL(base).host;
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const sts = o.stsEndpoint ?? env['FLEETWARDEN_STS_ENDPOINT'] ?? regionalStsEndpoint(region);
  let creds: AwsCredentials;
  try {
    // Loaded only here: the CLI on the simulator never loads the AWS SDK.
    creds = await (o.credentials ?? (await import('@aws-sdk/credential-providers')).fromNodeProviderChain())();
  } catch (err) {
    throw new UsageError('--iam', `no AWS credentials to log in with (${err instanceof Error ? err.message : String(err)}): set a profile, SSO or AWS_* variables, or use --token`);
  }
  const signed = signCallerIdentity(sts, stsRegionOf(sts) ?? region, creds, serverId, (o.now ?? Date.now)());
  let r: Response;
  try {
    r = await fetch(`${base}/v1/auth/operator`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signed), signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new FleetwardenError(`cannot reach the controller at ${base} to log in (${err instanceof Error ? err.message : String(err)})`);
  }
  const json = (await r.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!r.ok) throw new UsageError('--iam', `the IAM login was refused: ${json?.error?.message ?? `HTTP ${r.status}`} (HTTP ${r.status})`);
  const answer = operatorLoginJson.safeParse(json);
  if (!answer.success) throw new UsageError('--url', `POST /v1/auth/operator answered a shape this CLI does not expect: is ${base} a Fleetwarden controller of this version?`);
  return answer.data;
}
