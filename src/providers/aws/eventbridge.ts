/**
 * Events out to EventBridge (PutEvents). One attempt per `publish`: the app's queue (src/app/events.ts) retries
 * what is returned as failed, so a partly failed call is retried for its failed entries only (FailedEntryCount), and
 * a throttled one after a back-off. Limits (docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
 * at most 10 entries and 256 KB a call; an entry's size is its Time (14), Source, DetailType and Detail in UTF-8.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventSink, OutEvent, SinkResult } from '../../ports/index.js';
import type { AwsCall } from '../../ports/aws-calls.js';
import { awsError } from './errors.js';


export const EVENT_SOURCE = 'fleetwarden';

/** The calls this adapter makes (app/iam-policy.ts grants them on the configured bus). */
export const EVENTS_CALLS: readonly AwsCall[] = [{ service: 'events', operation: 'PutEvents', action: 'events:PutEvents', features: ['event-bus'], resource: { kind: 'event-bus' }, mutating: true }];
const MAX_ENTRIES = 10;
const MAX_BYTES = 256 * 1024;

function entrySize(e: PutEventsRequestEntry): number {
  return 14 + Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.DetailType ?? '') + Buffer.byteLength(e.Detail ?? '');
}

export class EventBridgeSink implements EventSink {
  readonly name = 'eventbridge';
  constructor(private readonly deps: { readonly client: EventBridgeClient; readonly busName: string | undefined }) {}

  private entry(e: OutEvent): PutEventsRequestEntry {
    return { Source: EVENT_SOURCE, DetailType: e.detailType, Time: new Date(e.at), Detail: JSON.stringify({ id: e.id, ...e.detail }), ...(this.deps.busName === undefined ? {} : { EventBusName: this.deps.busName }) };
  }

  async publish(events: readonly OutEvent[]): Promise<SinkResult> {
    const retry: OutEvent[] = [];
    const rejected: OutEvent[] = [];
    let error: string | undefined;
    let batch: { e: OutEvent; entry: PutEventsRequestEntry }[] = [];
    let bytes = 0;
    const send = async (): Promise<void> => {
      if (batch.length === 0) return;
      const sent = batch;
      batch = [];
      bytes = 0;
      try {
        const out = await this.deps.client.send(new PutEventsCommand({ Entries: sent.map((b) => b.entry) }));
        if ((out.FailedEntryCount ?? 0) === 0) return;
        // Entries answer in order; a failed one has an ErrorCode (e.g. ThrottlingException, InternalFailure).
        (out.Entries ?? []).forEach((r, i) => {
          const b = sent[i];
          if (b === undefined || r.ErrorCode === undefined) return;
          // Per entry: throttled or an internal failure may pass later; anything else (a malformed entry) will not.
          (r.ErrorCode === 'ThrottlingException' || r.ErrorCode === 'InternalFailure' || r.ErrorCode === 'InternalException' ? retry : rejected).push(b.e);
          error = `${r.ErrorCode}: ${r.ErrorMessage ?? ''}`;
        });
      } catch (err) {
        const e = awsError('events', err);
        (e.kind === 'retryable' ? retry : rejected).push(...sent.map((b) => b.e));
        error = `${e.code}: ${e.message}`;
      }
    };
    for (const e of events) {
      const entry = this.entry(e);
      const size = entrySize(entry);
      if (size > MAX_BYTES) {
        // Never sendable: reported, not retried.
        rejected.push(e);
        error = `event ${e.id} is ${size} bytes, over PutEvents' 256 KB`;
        continue;
      }
      if (batch.length === MAX_ENTRIES || bytes + size > MAX_BYTES) await send();
      batch.push({ e, entry });
      bytes += size;
    }
    await send();
    return { retry, rejected, ...(error === undefined ? {} : { error }) };
  }
}
