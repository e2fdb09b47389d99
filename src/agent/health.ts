/**
 * The agent's health answer (docs/agent.md#health-answer): what a load balancer's health check asks. It passes while
 * the instance is to take new work and fails while it is being taken out — so the load balancer stops routing to
 * it *before* its ports are blocked, and no new connection is refused by a backend the load balancer still uses.
 *
 * Two forms, either or both: an HTTP endpoint (`--health-port`: 200 "ok" when passing — or the app's own answer
 * when `--health-check-url` names it — and 503 "draining" when failing), and a file (`--health-file`: present while
 * passing, removed while failing) for load balancers or web servers that check a file. Until the controller has
 * said anything, the answer passes: an agent restart never takes an instance out on its own.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';

export interface HealthOptions {
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly file?: string | undefined;
  /** The app's own health URL (http only), asked while passing; its status is the answer (200-399 pass). */
  readonly upstream?: string | undefined;
}

export class HealthAnswer {
  private passing = true;
  private server: Server | null = null;

  constructor(private readonly o: HealthOptions) {}

  get enabled(): boolean {
    return this.o.port !== undefined || this.o.file !== undefined;
  }

  get state(): 'pass' | 'fail' {
    return this.passing ? 'pass' : 'fail';
  }

  async start(): Promise<void> {
    this.writeFile();
    if (this.o.port === undefined) return;
    const server = createServer((req, res) => {
      req.resume();
      if (!this.passing) {
        res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' }).end('draining\n');
        return;
      }
      if (this.o.upstream === undefined) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      // The app's answer, while the agent passes: a sick app fails its checks as it would without the agent.
      const up = request(this.o.upstream, { method: 'GET', timeout: 2000 }, (r) => {
        r.resume();
        const ok = (r.statusCode ?? 500) < 400;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : `app answered ${r.statusCode ?? '?'}\n`);
      });
      up.on('timeout', () => up.destroy(new Error('timeout')));
      up.on('error', (e) => {
        if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' }).end(`app unreachable: ${e.message}\n`);
      });
      up.end();
    });
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host ?? '0.0.0.0', () => {
        resolveListen();
      });
    });
    this.server = server;
  }

  /** Sets the answer; true when it changed. */
  set(pass: boolean): boolean {
    if (pass === this.passing) return false;
    this.passing = pass;
    this.writeFile();
    return true;
  }

  private writeFile(): void {
    if (this.o.file === undefined) return;
    if (this.passing) writeFileSync(this.o.file, 'ok\n');
    else rmSync(this.o.file, { force: true });
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}
