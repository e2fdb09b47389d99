/**
 * A local HTTP endpoint for the AWS SDK: it records every request — the service (from its SigV4 signature scope) and
 * the operation — and either answers from a handler (EC2, ELBv2, SSM wire contracts) or, with `upstream`, passes the
 * request on unchanged to a real local implementation (s3rver, dynalite) and relays its answer.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  /** The service as the request is signed for: ec2, elasticloadbalancing, ssm, s3, dynamodb. */
  readonly service: string;
  /** The region it is signed for (its SigV4 credential scope). */
  readonly region: string;
  /** The access key it is signed with (whose credentials: the controller's own, or an assumed role's). */
  readonly accessKeyId: string;
  /** The operation: the Action (query protocol), the X-Amz-Target's last part (JSON), or the S3 REST operation. */
  readonly action: string;
  /** Query-protocol form parameters (EC2, ELBv2); the query string for S3. */
  readonly params: Readonly<Record<string, string>>;
  /** JSON-protocol body (SSM, DynamoDB). */
  readonly json: Readonly<Record<string, unknown>>;
  /** The request path (S3: /bucket/key). */
  readonly path: string;
  /** The raw body (S3's DeleteObjects lists its keys there). */
  readonly body: string;
}

export type Handler = (req: FakeRequest) => { status?: number; body: string };

/** The service a request is signed for: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
function signedService(req: IncomingMessage): string {
  return /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

/** The S3 REST operation of a request, as the SDK names it (`x-id`) or as its method and path say. */
function s3Operation(method: string, url: URL): string {
  const named = url.searchParams.get('x-id');
  if (named !== null) return named;
  const objectKey = url.pathname.split('/').filter((p) => p !== '').length > 1;
  if (!objectKey && method === 'GET' && url.searchParams.get('list-type') === '2') return 'ListObjectsV2';
  if (!objectKey && method === 'POST' && url.searchParams.has('delete')) return 'DeleteObjects';
  if (objectKey && method === 'GET') return 'GetObject';
  if (objectKey && method === 'PUT') return 'PutObject';
  return `${method} ${url.pathname}?${[...url.searchParams.keys()].join('&')}`; // unknown: recorded as is
}

export class FakeAws {
  readonly requests: FakeRequest[] = [];
  private server: Server | undefined;
  /** A real local implementation to pass requests on to, instead of answering them. */
  upstream: string | undefined;
  handler: Handler = () => ({ status: 500, body: '<Response><Errors><Error><Code>InternalError</Code><Message>no handler</Message></Error></Errors></Response>' });

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = raw.toString();
        const url = new URL(req.url ?? '/', 'http://fake');
        const service = signedService(req);
        const target = req.headers['x-amz-target'];
        const isJson = typeof target === 'string';
        const params = service === 's3' ? Object.fromEntries(url.searchParams) : isJson ? {} : Object.fromEntries(new URLSearchParams(body));
        const json = isJson ? (JSON.parse(body || '{}') as Record<string, unknown>) : {};
        const action = service === 's3' ? s3Operation(req.method ?? 'GET', url) : isJson ? (target.split('.').at(-1) ?? '') : (params['Action'] ?? '');
        const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const r: FakeRequest = { service, region, accessKeyId, action, params, json, path: url.pathname, body };
        this.requests.push(r);
        if (this.upstream !== undefined) {
          const up = new URL(this.upstream);
          const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          });
          fwd.on('error', () => res.writeHead(502).end());
          fwd.end(raw);
          return;
        }
        const out = this.handler(r);
        res.writeHead(out.status ?? 200, { 'content-type': isJson ? 'application/x-amz-json-1.1' : 'text/xml' });
        res.end(out.body);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  calls(action: string): FakeRequest[] {
    return this.requests.filter((r) => r.action === action);
  }

  stop(): void {
    this.server?.close();
  }
}

export function ec2Error(code: string, message: string, status = 400): { status: number; body: string } {
  return { status, body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>` };
}

const CLI = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));

/** Runs the built CLI without blocking this process (the fake endpoint it talks to lives here); killed after 30 s. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

