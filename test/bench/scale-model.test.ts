/**
 * The scale benchmark's paper model (bench/scale-model.ts) on a case small enough to work out by hand, so the table in
 * docs/aws.md cannot drift silently when the model changes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ScaleInput, scaleModel } from '../../bench/scale-model.js';

const tiny: ScaleInput = {
  groups: 2,
  accounts: 1,
  regions: 1,
  tickSeconds: 60,
  busyShare: 0,
  busy: [],
  rest: [{ api: 'DescribeInstances', bucket: 'ec2-describe', perTick: 1, perMinute: 1 }],
  busyMs: 0,
  restMs: 100,
  invocationOverheadMs: 0,
  billedWhileSleeping: false,
  memoryMb: 1024,
  busyRead: 0,
  busyWrite: 0,
  restRead: 1,
  restWrite: 2,
  schedulerReadsPerGroup: 0,
  busyLogBytes: 0,
  restLogBytes: 0,
  invocationLogBytes: 0,
  busyS3Puts: 0,
};

const close = (actual: number, expected: number): void => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);

describe('the scale model', () => {
  it('turns 2 groups at a 1-minute tick into calls per account-region, invocations, units and dollars', () => {
    const out = scaleModel(tiny);
    // (1 per tick × 1 tick + 1 per minute) × 2 groups = 4 calls a minute; EC2 Describe* refills 20/s.
    const ec2 = out.loads.find((l) => l.bucket === 'ec2-describe');
    close(ec2?.perMinute ?? NaN, 4);
    close(ec2?.ratio ?? NaN, 4 / 60 / 20);
    assert.equal(out.workerInvocationsPerMonth, 2 * 43_200);
    close(out.gbSecondsPerMonth, 86_400 * 0.1);
    // Lambda: (86,400 workers + 43,200 scheduler) requests $0.02592, 8,640 GB-s $0.115200576; DynamoDB 86,400 RRU
    // $0.0108 and 172,800 WRU $0.108; EventBridge Scheduler 43,200 $0.0432.
    close(out.totalUsd, 0.02592 + 8640 * 0.0000133334 + 0.0108 + 0.108 + 0.0432);
  });

  it('bills a sleeping worker for its offset and the intervals between its ticks, and mixes busy and rest ticks', () => {
    const out = scaleModel({ ...tiny, tickSeconds: 15, billedWhileSleeping: true, busyShare: 0.5, busyMs: 300, busy: [{ api: 'DescribeInstances', bucket: 'ec2-describe', perTick: 3, perMinute: 1 }] });
    // Half an interval's offset + 3 intervals + one tick (the mean of 300 and 100 ms).
    close(out.billedMs, 7_500 + 45_000 + 200);
    // Busy: (3 × 4 + 1) × 2 = 26, rest: (1 × 4 + 1) × 2 = 10; half each: 18.
    close(out.loads.find((l) => l.bucket === 'ec2-describe')?.perMinute ?? NaN, 18);
    assert.equal(out.workerInvocationsPerMonth, 2 * 43_200);
  });

  it('as built: a group at rest ticks only when due, and the scheduler is billed its minute', () => {
    // 2 groups, 15 s ticks, half busy; at rest fired once in 5 minutes: 0.5 × 4 + 0.5 × 0.2 = 2.1 ticks a group-minute.
    const out = scaleModel({ ...tiny, tickSeconds: 15, busyShare: 0.5, busyMs: 300, restTicksPerMinute: 0.2, schedulerBilledSeconds: 60 });
    assert.equal(out.workerInvocationsPerMonth, 2 * 43_200 * 2.1);
    // Rest's DescribeInstances: 1 per tick × 0.1 rest ticks + 1 per minute × 0.5 of the groups, × 2 groups.
    close(out.loads.find((l) => l.bucket === 'ec2-describe')?.perMinute ?? NaN, (0.1 + 0.5) * 2);
    // The mean tick weighs busy by its 2 ticks and rest by its 0.1: (2 × 300 + 0.1 × 100) / 2.1 ms.
    close(out.billedMs, (2 * 300 + 0.1 * 100) / 2.1);
    // Workers' GB-s plus the scheduler's 60 s a minute at 1 GB.
    close(out.gbSecondsPerMonth, 2 * 43_200 * 2.1 * ((2 * 300 + 0.1 * 100) / 2.1 / 1000) + 43_200 * 60);
  });
});

describe('the AWS calls behind a tick’s port calls (bench/scale.ts)', () => {
  it('lists one group in one page and reads the target health of its own target groups only, not the account-region’s', async () => {
    const { awsRates } = await import('../../bench/scale.js');
    const ports = new Map([
      ['provider.listInstances', 1],
      ['lb.targetHealth', 1],
      ['provider.stop', 2],
    ]);
    const perTick = (rates: ReturnType<typeof awsRates>): Record<string, number> => Object.fromEntries(rates.filter((r) => r.perTick > 0).map((r) => [r.api, r.perTick]));
    // 34 managed target groups in the account-region, one of them the group's: one DescribeTargetHealth a tick.
    assert.deepEqual(perTick(awsRates(ports, 100, 34, 0)), { DescribeInstances: 1, DescribeTargetHealth: 1, 'StartInstances/StopInstances': 2 });
    // 2,500 instances: three pages; a group behind three target groups: three calls.
    assert.deepEqual(perTick(awsRates(ports, 2500, 34, 0, 3)), { DescribeInstances: 3, DescribeTargetHealth: 3, 'StartInstances/StopInstances': 2 });
  });

  it('keeps ELBv2 Describe* under its limit for 1,000 groups in 30 account-regions (docs/aws.md "Scale and cost")', async () => {
    const { awsRates } = await import('../../bench/scale.js');
    const ports = new Map([['provider.listInstances', 1], ['lb.targetHealth', 1], ['lb.deregistrationDelays', 1]]);
    const rates = awsRates(ports, 100, 34, 0);
    const elb = (tickSeconds: number): number => scaleModel({ ...tiny, groups: 1000, accounts: 10, regions: 3, tickSeconds, busy: rates, rest: rates }).loads.find((l) => l.bucket === 'elbv2-describe')?.perMinute ?? NaN;
    // Per group-minute: DescribeTargetHealth 1 a tick, discovery (1 + 2 calls) / 5 min, 34 attribute reads / 30 min;
    // × 33.3 groups per account-region. Read fleet-wide (34 a tick) it was 1,191 a minute, 1.99× over the 10/s refill.
    close(elb(60), (1 + 3 / 5 + 34 / 30) * (1000 / 30));
    assert.ok(elb(60) / 60 / 10 < 0.16 && elb(15) / 60 / 10 < 0.32, `${elb(60)} and ${elb(15)} calls a minute`);
  });
});
