/**
 * The API function as the stack deploys it, for tests: a DynamoDB table (dynalite) holding what a worker saved for
 * web (two instances and a transition) and three tokens; the bundle staged with the dashboard files and the
 * configuration beside it, as infra/fleetwarden.ts stages the functions' code; and a process serving it behind an
 * emulated function URL (HTTPS when `tls`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { issueToken } from '../../src/api/services.js';
import { DynamoStore } from '../../src/store/dynamodb/store.js';
import { fixtureSave } from '../support/fixture-save.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HOST = join(ROOT, 'dist/test/lambda/function-url-host.js');
const TABLE = 'fw-api-function';

export interface ApiFunction {
  readonly base: string;
  /** The Origin the dashboard's page sends (function URLs are HTTPS). */
  readonly origin: string;
  readonly store: DynamoStore;
  readonly admin: string;
  readonly viewer: string;
  readonly agent: string;
  /** What the process printed (for failure messages). */
  output(): string;
  stop(): void;
}

/** A self-signed certificate for 127.0.0.1 (openssl), valid one day. */
function selfSigned(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key, cert };
}

export async function startApiFunction(o: { tls?: boolean } = {}): Promise<ApiFunction> {
  const db = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => db.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(db.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await DynamoStore.createTable(client, TABLE);
  const store = new DynamoStore({ table: TABLE, client });
  const now = Date.now();
  // What a worker saved for web: two instances.
  await fixtureSave(store, { group: 'web', at: now, records: [{ instanceId: 'i-0000000000000000a', group: 'web', state: 'running', since: now - 60_000, reason: 'scale-out' }, { instanceId: 'i-0000000000000000b', group: 'web', state: 'stopped', since: now - 60_000, reason: 'scale-in' }], transitions: [], history: [{ at: now - 60_000, group: 'web', instanceId: 'i-0000000000000000a', type: 'transition', summary: 'stopped → starting' }], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
  const admin = (await issueToken(store, 'admin', null, 'ops', now)).token;
  const viewer = (await issueToken(store, 'viewer', null, 'wall screen', now)).token;
  const agent = (await issueToken(store, 'agent', 'i-0000000000000000a', 'agent a', now)).token;
  const code = mkdtempSync(join(tmpdir(), 'fw-api-code-'));
  mkdirSync(join(code, 'ui'));
  copyFileSync(join(ROOT, 'dist/lambda/api.mjs'), join(code, 'api.mjs'));
  for (const f of ['index.html', 'app.js', 'app.css']) copyFileSync(join(ROOT, 'dist/ui', f), join(code, 'ui', f));
  writeFileSync(join(code, 'fleetwarden.yaml'), ['provider: aws', 'aws: { region: eu-west-1 }', 'groups:', '  - name: web', '    fleets: { main: { min: 0, desired: 1 } }', '  - name: erp', ''].join('\n'));
  const env = { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', FLEETWARDEN_TABLE: TABLE };
  const tls = o.tls === true ? selfSigned(code) : undefined;
  const child: ChildProcess = spawn(process.execPath, [HOST, join(code, 'api.mjs'), ...(tls === undefined ? [] : [tls.key, tls.cert])], { env });
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /^LISTENING (\S+)$/m.exec(output);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (c) => reject(new Error(`the host exited ${String(c)}: ${output}`)));
  });
  assert.ok(base !== '');
  return {
    base,
    origin: base.replace(/^http:/, 'https:'),
    store,
    admin,
    viewer,
    agent,
    output: () => output,
    stop: () => {
      child.kill();
      db.close();
    },
  };
}
