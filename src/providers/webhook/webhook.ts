/**
 * Events out to a webhook: each event POSTed as JSON (node:http/https, no dependency), one attempt per event per
 * `publish` with a timeout; the app's queue (src/app/events.ts) retries what is returned as failed.
 *
 * With a secret, `X-Fleetwarden-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` and
 * `X-Fleetwarden-Timestamp: <unix seconds>` let the receiver check the sender and refuse replays (as Stripe and
 * GitHub do). The secret is held here only; it is in no message, log or error.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EventSink, OutEvent, SinkResult } from '../../ports/index.js';

export interface WebhookOptions {
  readonly url: string;
  readonly secret: string | undefined;
  readonly timeoutMs: number;
  /** The timestamp signed (unix ms); the sink reads no clock itself. */
  readonly now: () => number;
}

/** The body a receiver gets: EventBridge's envelope, so one rule or one handler serves both. */
export function webhookBody(e: OutEvent): string {
  return JSON.stringify({ id: e.id, source: 'fleetwarden', 'detail-type': e.detailType, time: new Date(e.at).toISOString(), detail: e.detail });
}

/** The signature of a body sent at `timestamp` (unix seconds): what a receiver recomputes. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

type Attempt = { ok: true } | { ok: false; retryable: boolean; error: string };

export class WebhookSink implements EventSink {
  readonly name = 'webhook';
  private readonly url: URL;
  constructor(private readonly opts: WebhookOptions) {
    this.url = new URL(opts.url);
  }

  /** The URL without credentials or query (which may hold a token): what messages show. */
  private where(): string {
    return `${this.url.protocol}//${this.url.host}${this.url.pathname}`;
  }

  private post(e: OutEvent): Promise<Attempt> {
    const body = webhookBody(e);
    const timestamp = String(Math.floor(this.opts.now() / 1000));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'fleetwarden', 'x-fleetwarden-event-id': e.id, 'x-fleetwarden-timestamp': timestamp };
    if (this.opts.secret !== undefined) headers['x-fleetwarden-signature'] = webhookSignature(this.opts.secret, timestamp, body);
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = request(this.url, { method: 'POST', headers, timeout: this.opts.timeoutMs }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ ok: true });
        // 408, 429 and 5xx may pass later; another 4xx is the receiver refusing this event (reported, not retried).
        else resolve({ ok: false, retryable: status >= 500 || status === 408 || status === 429, error: `${this.where()} answered HTTP ${status}` });
      });
      req.on('timeout', () => {
        req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        resolve({ ok: false, retryable: true, error: `${this.where()}: ${err.code ?? err.message}` });
      });
      req.end(body);
    });
  }

  async publish(events: readonly OutEvent[]): Promise<SinkResult> {
    const retry: OutEvent[] = [];
    const rejected: OutEvent[] = [];
    let error: string | undefined;
    for (const [i, e] of events.entries()) {
      const a = await this.post(e);
      if (a.ok) continue;
      error = a.error;
      if (!a.retryable) {
        rejected.push(e);
        continue;
      }
      // The receiver is down or overloaded: the rest wait for the back-off too, instead of each timing out now.
      retry.push(...events.slice(i));
      break;
    }
    return { retry, rejected, ...(error === undefined ? {} : { error }) };
  }
}
