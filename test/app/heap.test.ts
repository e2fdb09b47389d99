import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/domain/errors.js';
import { CONTROLLER_HEAP_GROWING_PERCENT, HEAP_GROWING_ENV, tuneControllerHeap } from '../../src/app/heap.js';

const DEFAULT = `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`;

/** The option tuneControllerHeap would set in this process, without setting it. */
function applied(env: Record<string, string | undefined>, execArgv: readonly string[] = []): string | null {
  const set: string[] = [];
  const r = tuneControllerHeap(env, execArgv, (flag) => set.push(flag));
  assert.deepEqual(set, r.applied === null ? [] : [r.applied], 'what it says it applied is what it set');
  return r.applied;
}

describe('the heap of a long-lived controller (src/app/heap.ts)', () => {
  it('is tuned when nobody said how the heap may grow, to FLEETWARDEN_HEAP_GROWING_PERCENT when set', () => {
    assert.equal(applied({}), DEFAULT);
    assert.equal(applied({ NODE_OPTIONS: '--trace-warnings' }, ['--enable-source-maps']), DEFAULT);
    for (const unset of ['', '  ']) assert.equal(applied({ [HEAP_GROWING_ENV]: unset }), DEFAULT, JSON.stringify(unset));
    assert.equal(applied({ [HEAP_GROWING_ENV]: '50' }), '--heap-growing-percent=50');
    assert.equal(applied({ [HEAP_GROWING_ENV]: ' 35 ' }), '--heap-growing-percent=35');
    assert.equal(applied({ [HEAP_GROWING_ENV]: '0010' }), '--heap-growing-percent=10');
    assert.equal(applied({ [HEAP_GROWING_ENV]: '01000' }), '--heap-growing-percent=1000');
    // 0: V8's own heuristics, nothing applied, and the log says so.
    assert.equal(applied({ [HEAP_GROWING_ENV]: '0' }), null);
    assert.match(tuneControllerHeap({ [HEAP_GROWING_ENV]: '0' }, [], () => assert.fail('nothing is set')).note, /V8's own heap growth/);
  });

  it("is left alone when node itself was started with --heap-growing-percent, and says so; other heap options combine with it", () => {
    assert.equal(applied({ [HEAP_GROWING_ENV]: '50' }, ['--heap-growing-percent=80']), null);
    assert.match(tuneControllerHeap({ [HEAP_GROWING_ENV]: '50' }, ['--heap-growing-percent=80'], () => assert.fail('nothing is set')).note, /started with --heap-growing-percent=80: it stays \(FLEETWARDEN_HEAP_GROWING_PERCENT=50 is not applied\)/);
    assert.equal(applied({}, ['--heap_growing_percent=80']), null);
    // A flag that only starts like it is not it.
    assert.equal(applied({}, ['--heap-growing-percentage=80']), DEFAULT);
    // The young generation's size and the old generation's cap are other matters.
    assert.equal(applied({ NODE_OPTIONS: '--max-semi-space-size=4 --max-old-space-size=512' }, ['--max-semi-space-size=4']), DEFAULT);
  });

  it('refuses a value that is not a whole percent from 0 to 1000, naming the variable, and sets nothing', () => {
    for (const bad of ['-5', '20%', 'lots', '1001', '1.5', '0x10', '1e3', '+20', '2 0']) {
      assert.throws(() => tuneControllerHeap({ [HEAP_GROWING_ENV]: bad }, [], () => assert.fail('nothing is set')), (err: unknown) => err instanceof ValidationError && err.field === HEAP_GROWING_ENV && err.message.includes(JSON.stringify(bad)), bad);
    }
  });
});
