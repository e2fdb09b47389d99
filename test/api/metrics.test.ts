import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type Controller, openSimulatedController, virtualTime } from '../../src/app/compose.js';
import { ControllerMetrics } from '../../src/app/metrics.js';
import { ProviderError } from '../../src/domain/errors.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { hashToken } from '../../src/api/services.js';
import { loadConfigFile } from '../../src/config/load.js';
import { statusJson } from '../../src/api/wire.js';
import { runCli } from '../providers/fake-aws.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const ADMIN = 'metrics-admin-token-0123456789';

/** One sample line of the text exposition: name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text format 0.0.4 strictly: any line that is neither a comment nor a sample fails. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

function find(samples: readonly Sample[], name: string, labels: Record<string, string>): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

describe('/metrics (prom-client)', () => {
  let ctl: Controller;
  let metrics: ControllerMetrics;
  let server: Server;
  let base = '';

  before(async () => {
    const config = loadConfigFile(DEMO);
    const { clock, sleep } = virtualTime(Date.parse('2026-06-01T01:40:00Z'));
    metrics = new ControllerMetrics({ process: true });
    ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'metrics-test', metrics });
    await ctl.reconciler.tick();
    server = createApiServer({ store: ctl.store, config, clock, live: ctl.reconciler, adminTokenHash: hashToken(ADMIN), stats: { ticks: 1, tickErrors: 0, lastTickSeconds: 0.5, lastTickAt: null }, metrics: metrics.registry });
    base = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await ctl.close();
  });

  const get = (path: string): Promise<Response> => fetch(base + path, { headers: { authorization: `Bearer ${ADMIN}` } });

  it('after a tick and an API call: tick, provider-call and request histograms have counts with their labels; the old gauges and the process metrics are there', async () => {
    assert.equal((await get('/v1/status')).status, 200);
    assert.equal((await get('/v1/instances/i-nope/junk')).status, 404);
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await r.text());

    for (const group of ['web', 'erp']) assert.ok((find(samples, 'fleetwarden_tick_seconds_count', { group, outcome: 'ok' })?.value ?? 0) > 0, `tick histogram of ${group}`);
    assert.ok((find(samples, 'fleetwarden_provider_call_seconds_count', { service: 'simulator', operation: 'listInstances', outcome: 'ok' })?.value ?? 0) > 0, 'listInstances timed');
    assert.ok((find(samples, 'fleetwarden_provider_call_seconds_count', { service: 'simulator', operation: 'start', outcome: 'ok' })?.value ?? 0) > 0, 'the first tick starts instances: start timed');
    assert.equal(find(samples, 'fleetwarden_api_request_seconds_count', { route: '/v1/status', method: 'GET', status: '200' })?.value, 1);
    // A junk path is one series, not one per path requested.
    assert.equal(find(samples, 'fleetwarden_api_request_seconds_count', { route: 'unmatched', method: 'GET', status: '404' })?.value, 1);
    assert.ok(!samples.some((s) => s.labels['route']?.includes('i-nope')), 'no path in a label');
    assert.ok(find(samples, 'fleetwarden_api_request_seconds_bucket', { route: '/v1/status', le: '+Inf' }), 'a histogram, with buckets');

    // The gauges dashboards use keep their names and labels.
    assert.ok((find(samples, 'fleetwarden_instances', { group: 'web', state: 'starting' })?.value ?? 0) > 0);
    assert.equal(find(samples, 'fleetwarden_group_lease_held', { group: 'web' })?.value, 1);
    assert.equal(find(samples, 'fleetwarden_group_failing', { group: 'web' })?.value, 0);
    assert.equal(find(samples, 'fleetwarden_ticks_total', {})?.value, 1);
    assert.equal(find(samples, 'fleetwarden_tick_duration_seconds', {})?.value, 0.5);
    assert.ok(find(samples, 'process_cpu_user_seconds_total', {}), 'process metrics');
    assert.ok(find(samples, 'nodejs_eventloop_lag_seconds', {}), 'event-loop lag');
  });

  it('a group’s last error says whether it is retryable: in /v1/status, `status --url` (JSON and text) and a gauge of /metrics', async () => {
    const at = Date.parse('2026-06-01T01:40:00Z');
    // As Reconciler.groupErrors reports them: web throttled (retryable), erp refused (not).
    const live = {
      observedInstance: () => undefined,
      windowsOf: () => undefined,
      groupErrors: () => new Map([['web', { at, message: 'ec2 RequestLimitExceeded: slow down', retryable: true }], ['erp', { at, message: 'ec2 UnauthorizedOperation: denied', retryable: false }]]),
    };
    const config = loadConfigFile(DEMO);
    const srv = createApiServer({ store: ctl.store, config, clock: ctl.clock, live, adminTokenHash: hashToken(ADMIN) });
    const url = `http://127.0.0.1:${(await listen(srv, '127.0.0.1', 0)).port}`;
    try {
      const call = (path: string): Promise<Response> => fetch(url + path, { headers: { authorization: `Bearer ${ADMIN}` } });
      const status = statusJson.parse(await (await call('/v1/status')).json());
      const lastError = (g: string): unknown => status.groups.find((x) => x.group === g)?.lastError;
      assert.deepEqual(lastError('web'), { at: '2026-06-01T01:40:00Z', message: 'ec2 RequestLimitExceeded: slow down', retryable: true });
      assert.deepEqual(lastError('erp'), { at: '2026-06-01T01:40:00Z', message: 'ec2 UnauthorizedOperation: denied', retryable: false });

      const env = { ...process.env, FLEETWARDEN_TOKEN: ADMIN };
      const json = await runCli(['status', '--url', url, '--json'], env);
      assert.equal(json.status, 0, json.stderr);
      assert.equal((JSON.parse(json.stdout) as typeof status).groups.find((x) => x.group === 'erp')?.lastError?.retryable, false, '--json keeps the field');
      const text = await runCli(['status', '--url', url], env);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /^web: last tick failed at 2026-06-01T01:40:00Z \(retryable: the next tick tries again\): ec2 RequestLimitExceeded/m);
      assert.match(text.stdout, /^erp: last tick failed at 2026-06-01T01:40:00Z \(not retryable: needs a fix\): ec2 UnauthorizedOperation/m);

      const samples = parseExposition(await (await call('/metrics')).text());
      assert.equal(find(samples, 'fleetwarden_group_failing', { group: 'erp' })?.value, 1);
      assert.equal(find(samples, 'fleetwarden_group_failing_retryable', { group: 'web' })?.value, 1);
      assert.equal(find(samples, 'fleetwarden_group_failing_retryable', { group: 'erp' })?.value, 0, 'failing, but not for a reason that passes by itself');
    } finally {
      srv.closeAllConnections();
      await new Promise((res) => srv.close(res));
    }
  });

  it('each controller has its own registry: a second one in the same process neither collides nor sees the first’s ticks', async () => {
    const other = new ControllerMetrics({ process: true });
    const text = await other.registry.metrics();
    assert.match(text, /^# TYPE fleetwarden_tick_seconds histogram$/m);
    assert.doesNotMatch(text, /fleetwarden_tick_seconds_count\{/, 'no tick observed by this one');
    assert.match(await metrics.registry.metrics(), /fleetwarden_tick_seconds_count\{group="web",outcome="ok"\} [1-9]/);
  });

  it('a failed call is counted by outcome: retryable for a throttle, error otherwise; the error still reaches the caller', async () => {
    const m = new ControllerMetrics();
    const port = m.instrument(
      {
        // As the EC2 adapter maps a throttle (providers/aws/errors.ts): decided by kind, not by name.
        throttled: () => Promise.reject(new ProviderError('retryable', 'ec2', 'RequestLimitExceeded', 'slow down')),
        broken: () => Promise.reject(new Error('boom')),
      },
      'ec2',
    );
    await assert.rejects(port.throttled(), /slow down/);
    await assert.rejects(port.broken(), /boom/);
    const samples = parseExposition(await m.registry.metrics());
    assert.equal(find(samples, 'fleetwarden_provider_call_seconds_count', { service: 'ec2', operation: 'throttled', outcome: 'retryable' })?.value, 1);
    assert.equal(find(samples, 'fleetwarden_provider_call_seconds_count', { service: 'ec2', operation: 'broken', outcome: 'error' })?.value, 1);
  });
});
