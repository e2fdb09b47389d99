/**
 * Events out (issue 12 item 5): the controller's events, as they are reported, published to the configured sinks
 * (EventBridge, a webhook) without ever holding up or failing a tick.
 *
 * The reconciler reports through `onEvent` (synchronous); the publisher keeps a bounded queue per sink and drains it
 * in the background: a failed delivery is retried with exponential back-off (only the events that failed), an
 * event given up on or dropped from a full queue is counted and reported through `onFailure` (the run log's stderr)
 * and `stats()` — never thrown into the tick.
 */
import { createHash } from 'node:crypto';
import { formatInstant } from '../domain/time.js';
import type { EventSink, OutEvent } from '../ports/index.js';
import type { ControllerEvent } from '../reconciler/reconciler.js';

/** EventBridge detail-types (the webhook's `detail-type`): what a rule matches on. */
export const DETAIL_TYPES = {
  transition: 'Fleetwarden Instance Transition',
  refused: 'Fleetwarden Action Refused',
  window: 'Fleetwarden Window',
  maintenance: 'Fleetwarden Maintenance Result',
  problem: 'Fleetwarden Problem',
} as const;

function id(detailType: string, detail: Readonly<Record<string, unknown>>): string {
  // Content-derived: the same event reported twice (a retried tick) has the same id, so receivers can deduplicate.
  return createHash('sha256').update(JSON.stringify([detailType, detail])).digest('hex').slice(0, 32);
}

/**
 * The published form of a controller event; null for what is not published (retries within a tick, leases, the
 * commands a plan sends: their outcomes are published as transitions or refusals).
 */
export function outEvent(e: ControllerEvent): OutEvent | null {
  const at = formatInstant(e.at);
  let detailType: string;
  let detail: Record<string, unknown>;
  switch (e.type) {
    case 'transition':
      detailType = DETAIL_TYPES.transition;
      detail = { group: e.group, instance: e.instance, from: e.from, to: e.to, reason: e.reason, at };
      break;
    case 'error':
      // A stop or deregistration withheld (a window began), an action the provider refused or failed.
      detailType = DETAIL_TYPES.refused;
      detail = { group: e.group, instance: e.instance ?? null, reason: e.message, at };
      break;
    case 'window':
      detailType = DETAIL_TYPES.window;
      detail = { group: e.group, window: e.name, state: e.state, at };
      break;
    case 'maintenance': {
      // Published: a task's or an execution's final status (the steps between are in the history and the log).
      const status = e.data?.['status'];
      if (typeof status !== 'string') return null;
      const task = e.data?.['task'];
      detailType = DETAIL_TYPES.maintenance;
      detail = { group: e.group, instance: e.instance, execution: e.data?.['execution'] ?? null, ...(typeof task === 'string' ? { task } : {}), status, reason: e.message, at };
      break;
    }
    case 'problem':
      detailType = DETAIL_TYPES.problem;
      detail = { group: e.group, state: e.state, ...e.problem, at };
      break;
    case 'retry':
    case 'lease':
    case 'command':
      return null;
  }
  return { id: id(detailType, detail), detailType, at: e.at, detail };
}

export interface SinkStats {
  readonly sink: string;
  readonly delivered: number;
  /** Given up on: refused by the receiver, or still failing after every attempt. */
  readonly failed: number;
  /** Dropped because the queue was full (the receiver down for long). */
  readonly dropped: number;
  readonly queued: number;
  readonly lastError: string | null;
}

export interface PublisherOptions {
  /** Events waiting per sink before the oldest is dropped [10,000]. */
  readonly maxQueue?: number;
  /** Attempts per event before it is given up on [8]. */
  readonly attempts?: number;
  /** First back-off; doubled each failed attempt up to maxBackoffMs [1 s, 60 s]. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Events a delivery carries at most [100]. */
  readonly batch?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told of every failure (without the secret: sinks never put it in messages). */
  readonly onFailure?: (sink: string, message: string) => void;
}

interface Lane {
  readonly sink: EventSink;
  readonly queue: { e: OutEvent; tries: number }[];
  delivered: number;
  failed: number;
  dropped: number;
  lastError: string | null;
  draining: Promise<void> | null;
}

export class EventPublisher {
  private readonly lanes: Lane[];
  private readonly o: Required<Omit<PublisherOptions, 'onFailure'>> & Pick<PublisherOptions, 'onFailure'>;
  private closed = false;

  constructor(sinks: readonly EventSink[], options: PublisherOptions = {}) {
    this.lanes = sinks.map((sink) => ({ sink, queue: [], delivered: 0, failed: 0, dropped: 0, lastError: null, draining: null }));
    this.o = { maxQueue: 10_000, attempts: 8, backoffMs: 1_000, maxBackoffMs: 60_000, batch: 100, sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref()), ...options };
  }

  /** For `onEvent`: queues the event for every sink and returns at once. */
  readonly offer = (e: ControllerEvent): void => {
    if (this.closed) return;
    const out = outEvent(e);
    if (out === null) return;
    for (const lane of this.lanes) {
      if (lane.queue.length >= this.o.maxQueue) {
        lane.queue.shift();
        lane.dropped++;
        this.fail(lane, `queue full (${this.o.maxQueue}): the oldest event dropped`);
      }
      lane.queue.push({ e: out, tries: 0 });
      lane.draining ??= this.drain(lane).finally(() => {
        lane.draining = null;
      });
    }
  };

  private fail(lane: Lane, message: string): void {
    lane.lastError = message;
    this.o.onFailure?.(lane.sink.name, message);
  }

  private async drain(lane: Lane): Promise<void> {
    // Begun on the next turn of the event loop: the events a tick reports together go out together.
    await new Promise((r) => setImmediate(r));
    let backoff = this.o.backoffMs;
    while (lane.queue.length > 0) {
      const items = lane.queue.splice(0, this.o.batch);
      let result;
      try {
        result = await lane.sink.publish(items.map((i) => i.e));
      } catch (err) {
        // A sink is not meant to throw; if one does, the batch is retried like a failed delivery.
        result = { retry: items.map((i) => i.e), rejected: [], error: err instanceof Error ? err.message : String(err) };
      }
      const again = new Set(result.retry);
      const refused = new Set(result.rejected);
      const retry: { e: OutEvent; tries: number }[] = [];
      for (const i of items) {
        if (refused.has(i.e)) lane.failed++;
        else if (!again.has(i.e)) lane.delivered++;
        else if (i.tries + 1 >= this.o.attempts) lane.failed++;
        else retry.push({ e: i.e, tries: i.tries + 1 });
      }
      if (result.error !== undefined) this.fail(lane, `${again.size + refused.size} of ${items.length} event(s) not delivered: ${result.error}${retry.length > 0 ? '; trying again' : ''}`);
      if (retry.length === 0) {
        backoff = this.o.backoffMs;
        continue;
      }
      lane.queue.unshift(...retry);
      if (this.closed) return;
      await this.o.sleep(backoff);
      backoff = Math.min(backoff * 2, this.o.maxBackoffMs);
    }
  }

  stats(): SinkStats[] {
    return this.lanes.map((l) => ({ sink: l.sink.name, delivered: l.delivered, failed: l.failed, dropped: l.dropped, queued: l.queue.length, lastError: l.lastError }));
  }

  /** Waits until every queue is empty (or until `timeoutMs`: what is left is reported, not waited for). */
  async flush(timeoutMs: number): Promise<void> {
    const pending = this.lanes.map((l) => l.draining).filter((d): d is Promise<void> => d !== null);
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Stops accepting events; what is queued gets `timeoutMs` to go out. */
  async close(timeoutMs = 5_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    for (const l of this.lanes) if (l.queue.length > 0) this.fail(l, `${l.queue.length} event(s) not delivered at shutdown`);
  }
}
