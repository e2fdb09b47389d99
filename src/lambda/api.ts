/**
 * The HTTP API on a Lambda function URL: the same API `fleetwarden run --listen` serves (src/api/server.ts), on the
 * deployment's table, configuration and output bucket. It does not tick: groups are reconciled by the workers, so
 * what it shows is what the workers saved. Agents call it with their tokens (or log in with their instance's IAM
 * role), operators with a token or through the IAM login (`controller.operatorIam`), and the dashboard is served at /
 * from the files bundled beside this handler (ui/).
 *
 * A long poll (an agent's `wait`, the dashboard's live view) has no tick to wake it here: it looks at the table again
 * every few seconds, and is cut at `MAX_WAIT_S` so an invocation stays short (the client simply polls again).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi } from '../api/server.js';
import { type FunctionUrlEvent, type FunctionUrlResult, functionUrlHandler } from '../api/function-url.js';
import { ReplayGuard } from '../api/iam-login.js';
import { systemClock } from '../domain/time.js';
import { deploymentConfig } from './deployment.js';

/** The longest a long poll is held on Lambda (the function's timeout is above it). */
export const MAX_WAIT_S = 20;
/** How often a held long poll reads the table again. */
export const LOOK_EVERY_MS = 3000;

function uiDir(): string {
  try {
    return join(fileURLToPath(import.meta.url), '..', 'ui');
  } catch {
    return join(process.cwd(), 'ui');
  }
}

let served: Promise<(event: FunctionUrlEvent) => Promise<FunctionUrlResult>> | undefined;

async function open(): Promise<(event: FunctionUrlEvent) => Promise<FunctionUrlResult>> {
  const config = deploymentConfig();
  // The store and the read side of AWS only: this function never acts on the fleet (its role cannot).
  const aws = await import('../app/aws.js');
  // History it writes (overrides, controls, agents' reports) expires by the table's TTL, as the workers' does.
  const store = aws.dynamoStore(config);
  const ports = aws.awsPorts(config, systemClock);
  // One replay guard for both logins: a signed request is redeemed once, whichever route it is sent to.
  const replay = new ReplayGuard();
  const api = createApi({
    store,
    config,
    clock: systemClock,
    live: null,
    objects: ports.objects,
    uiDir: process.env['FLEETWARDEN_UI_DIR'] ?? uiDir(),
    longPoll: { maxWaitS: MAX_WAIT_S, lookEveryMs: LOOK_EVERY_MS },
    ...(config.ssmDiscovery ? { ssmWindows: () => ports.windowSource.list() } : {}),
    ...(config.controller.agentIam === null ? {} : { agentIam: { settings: config.controller.agentIam, replay, inFlight: 0 } }),
    ...(config.controller.operatorIam === null ? {} : { operatorIam: { settings: config.controller.operatorIam, replay, inFlight: 0 } }),
    // Method, path and status only: never headers (tokens, cookies) or the query.
    log: (e) => {
      if (e.status >= 400) console.log(JSON.stringify({ type: 'api-request', method: e.method, path: e.path, status: e.status, ms: Math.round(e.ms), ...(e.error === undefined ? {} : { stack: e.error }) }));
    },
  });
  return functionUrlHandler(api);
}

export async function handler(event: FunctionUrlEvent): Promise<FunctionUrlResult> {
  served ??= open().catch((err: unknown) => {
    served = undefined;
    throw err;
  });
  return (await served)(event);
}
