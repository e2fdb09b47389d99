import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTROLLER_HEAP_GROWING_PERCENT, tuneControllerHeap } from '../../src/app/heap.js';

describe('the heap of a long-lived controller (src/app/heap.ts)', () => {
  it('is tuned when the user did not say how the heap may grow', () => {
    assert.equal(tuneControllerHeap([], ''), `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`);
    assert.equal(tuneControllerHeap(['--enable-source-maps'], '--trace-warnings'), `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`);
  });

  it("is left alone when NODE_OPTIONS or node's own arguments tune it, in either spelling", () => {
    for (const options of ['--max-old-space-size=512', '--trace-warnings  --heap-growing-percent=50', '--max_old_space_size=300', '--optimize-for-size']) {
      assert.equal(tuneControllerHeap([], options), null, options);
    }
    assert.equal(tuneControllerHeap(['--max-semi-space-size=8'], ''), null);
    // A flag that only starts like one of them is not one of them.
    assert.equal(tuneControllerHeap(['--max-old-space-sizes'], ''), `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`);
  });
});
