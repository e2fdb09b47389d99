import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore, StoredObject } from '../../ports/index.js';
import { checkKey } from '../../domain/object-keys.js';
import type { AwsCall } from '../../ports/aws-calls.js';
import { ProviderError } from '../../domain/errors.js';
import { awsCall } from './errors.js';

/**
 * Every S3 call this store makes (ports/aws-calls.ts): the IAM policy is generated from it. Listing needs s3:ListBucket on the
 * bucket — which is also what lets S3 answer a missing object with 404 (null) rather than 403.
 */
export const S3_CALLS: readonly AwsCall[] = [
  { service: 's3', operation: 'PutObject', action: 's3:PutObject', features: ['output-bucket'], resource: { kind: 'output-objects' }, mutating: true },
  { service: 's3', operation: 'GetObject', action: 's3:GetObject', features: ['output-bucket'], resource: { kind: 'output-objects' }, mutating: false },
  { service: 's3', operation: 'ListObjectsV2', action: 's3:ListBucket', features: ['output-bucket'], resource: { kind: 'output-bucket' }, mutating: false },
  { service: 's3', operation: 'DeleteObjects', action: 's3:DeleteObject', features: ['output-bucket'], resource: { kind: 'output-objects' }, mutating: true },
];

/** The ObjectStore on S3: one bucket, keys under a prefix. */
export class S3ObjectStore implements ObjectStore {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(o: { bucket: string; prefix?: string; client?: S3Client }) {
    this.s3 = o.client ?? new S3Client({});
    this.bucket = o.bucket;
    this.prefix = o.prefix ?? '';
  }

  /** Every SDK call goes through here: its error leaves as a ProviderError (providers/aws/errors.ts). */
  private send<T>(fn: () => Promise<T>): Promise<T> {
    return awsCall('s3', fn);
  }

  async put(key: string, body: string): Promise<void> {
    await this.send(() => this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + checkKey(key), Body: body, ContentType: 'text/plain; charset=utf-8' })));
  }

  async get(key: string): Promise<string | null> {
    try {
      return await this.send(async () => {
        const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + checkKey(key) }));
        return (await r.Body?.transformToString('utf-8')) ?? '';
      });
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'not-found') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.send(() => this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ...(token === undefined ? {} : { ContinuationToken: token }) })));
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key.slice(this.prefix.length), lastModified: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      await this.send(() => this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((k) => ({ Key: this.prefix + checkKey(k) })), Quiet: true } })));
    }
  }
}
