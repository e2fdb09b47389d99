/**
 * The controller's own Prometheus metrics (prom-client): how long ticks and provider calls take, and the process
 * metrics. One Registry per controller, never prom-client's global one, so several controllers in one process (tests,
 * benchmarks) keep apart. The API server merges this registry into /metrics with its own (store gauges, request
 * latency). Durations are measured here, at the edge, with an injected stopwatch: core code never reads a clock.
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SinkStats } from './events.js';
import { isRetryable } from '../reconciler/executor.js';

/** Starts a measurement; calling the result gives the seconds elapsed since. */
export type Stopwatch = () => () => number;

/** Real elapsed time (monotonic): tick and call durations are real costs even when the controller's clock is simulated. */
export const monotonicStopwatch: Stopwatch = () => {
  const started = performance.now();
  return () => (performance.now() - started) / 1000;
};

/** How a call ended: `retryable` is a throttle or other transient error the executor retries. */
export type Outcome = 'ok' | 'retryable' | 'error';

function outcomeOf(err: unknown): Outcome {
  return isRetryable(err) ? 'retryable' : 'error';
}

export interface MetricsOptions {
  /** prom-client's default process metrics (CPU, memory, event-loop lag, GC): on for `run`, off for tests and `simulate`. */
  readonly process?: boolean;
  readonly stopwatch?: Stopwatch;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly stopwatch: Stopwatch;
  readonly tickSeconds: Histogram<'group' | 'outcome'>;
  readonly providerCallSeconds: Histogram<'service' | 'operation' | 'outcome'>;

  constructor(options: MetricsOptions = {}) {
    this.stopwatch = options.stopwatch ?? monotonicStopwatch;
    this.tickSeconds = new Histogram({
      name: 'fleetwarden_tick_seconds',
      help: 'wall time of one group’s part of a tick (plan, act, save), by group and outcome',
      labelNames: ['group', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [this.registry],
    });
    this.providerCallSeconds = new Histogram({
      name: 'fleetwarden_provider_call_seconds',
      help: 'wall time of each provider call attempt, by service (ec2, elasticloadbalancing, ssm, agent, simulator), operation (the port method) and outcome (ok, retryable, error)',
      labelNames: ['service', 'operation', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    if (options.process === true) collectDefaultMetrics({ register: this.registry });
  }

  /** Events out: delivered, failed, dropped and queued events per sink, read from the publisher when scraped. */
  watchEvents(stats: () => readonly SinkStats[]): void {
    new Gauge({
      name: 'fleetwarden_events_out',
      help: 'events published out (events out), by sink (webhook, eventbridge) and state: delivered, failed (given up on), dropped (queue full), queued',
      labelNames: ['sink', 'state'],
      registers: [this.registry],
      collect() {
        for (const s of stats()) for (const state of ['delivered', 'failed', 'dropped', 'queued'] as const) this.set({ sink: s.sink, state }, s[state]);
      },
    });
  }

  /** Runs one group's tick, observing its duration and outcome (for Reconciler's `timeGroupTick`). */
  async timeGroupTick<T>(group: string, run: () => Promise<T>): Promise<T> {
    const elapsed = this.stopwatch();
    try {
      const out = await run();
      this.tickSeconds.observe({ group, outcome: 'ok' }, elapsed());
      return out;
    } catch (err) {
      this.tickSeconds.observe({ group, outcome: 'error' }, elapsed());
      throw err;
    }
  }

  /**
   * The port with every asynchronous method timed under `service` (one observation per attempt: the executor's
   * retries call again). Other properties pass through untouched.
   */
  instrument<P extends object>(port: P, service: string): P {
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(port, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop);
        if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
        const known = cache.get(prop);
        if (known !== undefined) return known;
        const fn = value as (...args: unknown[]) => unknown;
        const timed = (...args: unknown[]): unknown => {
          const elapsed = this.stopwatch();
          const result = fn.apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (v: unknown) => {
              this.providerCallSeconds.observe({ service, operation: prop, outcome: 'ok' }, elapsed());
              return v;
            },
            (err: unknown) => {
              this.providerCallSeconds.observe({ service, operation: prop, outcome: outcomeOf(err) }, elapsed());
              throw err;
            },
          );
        };
        cache.set(prop, timed);
        return timed;
      },
    });
  }
}
