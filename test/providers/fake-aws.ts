/** A local HTTP endpoint that answers AWS query-protocol calls (EC2, ELBv2) from a handler, recording each request. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  readonly action: string;
  /** Query-protocol form parameters (EC2, ELBv2). */
  readonly params: Readonly<Record<string, string>>;
  /** JSON-protocol body (SSM). */
  readonly json: Readonly<Record<string, unknown>>;
}

export type Handler = (req: FakeRequest) => { status?: number; body: string };

export class FakeAws {
  readonly requests: FakeRequest[] = [];
  private server: Server | undefined;
  handler: Handler = () => ({ status: 500, body: '<Response><Errors><Error><Code>InternalError</Code><Message>no handler</Message></Error></Errors></Response>' });

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const target = req.headers['x-amz-target'];
        const isJson = typeof target === 'string';
        const params = isJson ? {} : Object.fromEntries(new URLSearchParams(body));
        const json = isJson ? (JSON.parse(body || '{}') as Record<string, unknown>) : {};
        const r: FakeRequest = { action: isJson ? (target.split('.').at(-1) ?? '') : (params['Action'] ?? ''), params, json };
        this.requests.push(r);
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
