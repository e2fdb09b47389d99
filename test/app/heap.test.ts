import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/domain/errors.js';
import { CONTROLLER_HEAP_GROWING_PERCENT, HEAP_GROWING_ENV, tuneControllerHeap } from '../../src/app/heap.js';

const DEFAULT = `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`;

describe('the heap of a long-lived controller (src/app/heap.ts)', () => {
  it('is tuned when nobody said how the heap may grow, to FLEETWARDEN_HEAP_GROWING_PERCENT when set', () => {
    assert.equal(tuneControllerHeap({}, []), DEFAULT);
    assert.equal(tuneControllerHeap({ NODE_OPTIONS: '--trace-warnings' }, ['--enable-source-maps']), DEFAULT);
    assert.equal(tuneControllerHeap({ [HEAP_GROWING_ENV]: '' }, []), DEFAULT);
    assert.equal(tuneControllerHeap({ [HEAP_GROWING_ENV]: '50' }, []), '--heap-growing-percent=50');
    // 0: V8's own heuristics, nothing applied.
    assert.equal(tuneControllerHeap({ [HEAP_GROWING_ENV]: '0' }, []), null);
  });

  it('is left alone when node itself was started with --heap-growing-percent; other heap options combine with it', () => {
    assert.equal(tuneControllerHeap({ [HEAP_GROWING_ENV]: '50' }, ['--heap-growing-percent=80']), null);
    assert.equal(tuneControllerHeap({}, ['--heap_growing_percent=80']), null);
    // A flag that only starts like it is not it.
    assert.equal(tuneControllerHeap({}, ['--heap-growing-percentage=80']), DEFAULT);
    // The young generation's size and the old generation's cap are other matters.
    assert.equal(tuneControllerHeap({ NODE_OPTIONS: '--max-semi-space-size=4 --max-old-space-size=512' }, ['--max-semi-space-size=4']), DEFAULT);
  });

  it('refuses a value that is not a whole percent from 0 to 1000, naming the variable', () => {
    for (const bad of ['-5', '20%', 'lots', '1001', '1.5']) {
      assert.throws(() => tuneControllerHeap({ [HEAP_GROWING_ENV]: bad }, []), (err: unknown) => err instanceof ValidationError && err.field === HEAP_GROWING_ENV && err.message.includes(JSON.stringify(bad)), bad);
    }
  });
});
