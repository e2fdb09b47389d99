/** The part of Lambda's context object the handlers use (no @types/aws-lambda needed for three fields). */
export interface LambdaContext {
  readonly awsRequestId?: string;
  readonly functionName?: string;
  getRemainingTimeInMillis(): number;
}

/**
 * A CloudWatch embedded-metric line: Lambda ships the log line, CloudWatch turns it into metrics (namespace
 * Fleetwarden), and the stack's alarms watch them — no PutMetricData call, no extra permission. Each metric is also
 * published without dimensions (the empty set), which is what the alarms watch across groups.
 */
export function emitMetrics(metrics: Readonly<Record<string, number>>, dimensions: Readonly<Record<string, string>> = {}): void {
  console.log(
    JSON.stringify({
      _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Fleetwarden', Dimensions: [[], ...(Object.keys(dimensions).length === 0 ? [] : [Object.keys(dimensions)])], Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: 'Count' })) }] },
      ...dimensions,
      ...metrics,
    }),
  );
}
