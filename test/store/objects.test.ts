/** ObjectStore contract, run against the local directory store and S3 (on s3rver, a real local S3). */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { ObjectStore } from '../../src/ports/index.js';
import { S3ObjectStore } from '../../src/providers/aws/s3.js';
import { DirectoryObjectStore, pruneObjects } from '../../src/store/objects/objects.js';

function contract(name: string, make: () => ObjectStore): void {
  describe(`ObjectStore contract: ${name}`, () => {
    it('puts, gets, lists by prefix, deletes; a missing object is null', async () => {
      const s = make();
      await s.put('web/cmd-1/i-1/stdout', 'x'.repeat(10_000));
      await s.put('web/cmd-1/i-2/stdout', 'second');
      await s.put('api/cmd-2/i-9/stdout', 'other group');
      assert.equal((await s.get('web/cmd-1/i-1/stdout'))?.length, 10_000, 'full output, not capped');
      assert.equal(await s.get('web/nope'), null);
      assert.deepEqual((await s.list('web/')).map((o) => o.key).sort(), ['web/cmd-1/i-1/stdout', 'web/cmd-1/i-2/stdout']);
      assert.equal((await s.list('web/')).find((o) => o.key.endsWith('i-2/stdout'))?.size, 6);
      await s.delete(['web/cmd-1/i-1/stdout']);
      assert.deepEqual((await s.list('web/')).map((o) => o.key), ['web/cmd-1/i-2/stdout']);
    });

    it('prunes by age (retention)', async () => {
      const s = make();
      await s.put('old/a', '1');
      const cutoff = Date.now() + 60_000; // everything written so far is older than this
      assert.equal(await pruneObjects(s, 'old/', cutoff), 1);
      assert.deepEqual(await s.list('old/'), []);
    });

    it('refuses keys that would escape the store', async () => {
      const s = make();
      for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/./b', '']) await assert.rejects(s.put(key, 'x'), /not a valid object key/);
    });
  });
}

contract('local directory', () => new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'fw-objects-'))));

let s3rver: S3rver | undefined;
let endpoint = '';
before(async () => {
  s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(join(tmpdir(), 'fw-s3rver-')), configureBuckets: [{ name: 'command-output' }] });
  const { port } = await s3rver.run();
  endpoint = `http://127.0.0.1:${port}`;
});
after(async () => {
  await s3rver?.close();
});

let n = 0;
contract('S3 (s3rver)', () => new S3ObjectStore({ bucket: 'command-output', prefix: `run-${++n}/`, client: new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }) }));
