import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

/**
 * Asynchronous Lambda invocation, the scheduler's fan-out (src/lambda/scheduler.ts): InvocationType Event, so the
 * scheduler hands each group to its own worker and waits for none of them. Lambda queues the event; a failed worker
 * is not retried (the stack sets no retries, and drops an event not started within a minute): the next minute's
 * scheduler hands the group out again. A worker that could not be queued is reported by the caller.
 */
export class LambdaInvoker {
  constructor(private readonly client: LambdaClient = new LambdaClient({ maxAttempts: 3 })) {}

  async invokeAsync(functionName: string, payload: unknown): Promise<void> {
    const out = await this.client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
    // 202: queued. Anything else is not what an Event invocation answers.
    if (out.StatusCode !== 202) throw new Error(`Invoke ${functionName} answered status ${String(out.StatusCode)}, not 202 (queued)`);
  }

  close(): void {
    this.client.destroy();
  }
}
