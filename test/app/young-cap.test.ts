import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { capYoungGeneration, V8_GROWTH_FACTOR, type YoungSpace } from '../../src/app/young-cap.js';

const MiB = 1_048_576;

/**
 * A young generation as V8 grows it: by the growth factor last set, every third allocation step, up to `max`; the
 * test shrinks it and reports collections.
 */
function fakeSpace(max = 32 * MiB): YoungSpace & { bytes: number; flags: string[]; steps: number; gc: (() => void) | null } {
  let factor = 2;
  const s = {
    bytes: 1 * MiB,
    flags: [] as string[],
    steps: 0,
    gc: null as (() => void) | null,
    size: () => s.bytes,
    setFlag: (flag: string) => {
      s.flags.push(flag);
      factor = Number(flag.split('=')[1]);
    },
    allocate: (keep: unknown[]) => {
      keep.push(s.steps);
      if (++s.steps % 3 === 0) s.bytes = Math.min(max, s.bytes * factor);
    },
    afterGc: (fn: () => void) => {
      s.gc = fn;
      return () => {
        s.gc = null;
      };
    },
  };
  return s;
}

describe('the young generation kept at a size by its growth factor (src/app/young-cap.ts)', () => {
  it('grows it to the size the semi-spaces would make it and no further, and back to it when V8 shrank it', () => {
    const space = fakeSpace();
    const cap = capYoungGeneration(4, space);
    assert.equal(cap.limitBytes, 8 * MiB, 'two semi-spaces of 4 MiB');
    assert.equal(space.bytes, 8 * MiB, 'grown to the size');
    assert.deepEqual(space.flags, ['--semi-space-growth-factor=1'], 'then no more growth');
    assert.equal(cap.factor(), 1);
    const steps = space.steps;
    space.allocate([]);
    space.allocate([]);
    space.allocate([]);
    assert.equal(space.bytes, 8 * MiB, 'a busy stretch grows it no further');
    space.gc?.();
    assert.equal(space.steps, steps + 3, 'at the size: nothing allocated after a collection');
    space.bytes = 1 * MiB; // V8 shrank it (little allocated meanwhile)
    space.gc?.();
    assert.equal(space.bytes, 8 * MiB, 'grown back after the collection that shrank it');
    assert.deepEqual(space.flags, ['--semi-space-growth-factor=1', `--semi-space-growth-factor=${V8_GROWTH_FACTOR}`, '--semi-space-growth-factor=1']);
    assert.ok(cap.holding());
    cap.stop();
    assert.equal(space.gc, null, 'no longer observed');
    assert.equal(space.flags.at(-1), `--semi-space-growth-factor=${V8_GROWTH_FACTOR}`, "stopped: V8's own factor again");
  });

  it('already bigger when started: no growth from then on', () => {
    const space = fakeSpace();
    space.bytes = 32 * MiB;
    const cap = capYoungGeneration(2, space);
    assert.equal(space.steps, 0, 'nothing allocated');
    assert.deepEqual(space.flags, ['--semi-space-growth-factor=1']);
    cap.stop();
  });

  it("leaves V8's own young generation, and says why, when the size is beyond V8's own maximum", () => {
    const space = fakeSpace(16 * MiB);
    const told: string[] = [];
    const cap = capYoungGeneration(64, space, (why) => told.push(why));
    assert.equal(cap.holding(), false);
    assert.equal(space.bytes, 16 * MiB);
    assert.equal(cap.factor(), V8_GROWTH_FACTOR);
    assert.equal(space.gc, null, 'not observed');
    assert.deepEqual(told, ["the young generation stays at 16 MiB, short of 128 MiB: V8's own maximum is smaller"]);
    cap.stop();
  });

  it('lets go, and says why, where V8 grows the young generation past the size all the same (a V8 that ignores the factor)', () => {
    const space = fakeSpace();
    const told: string[] = [];
    const cap = capYoungGeneration(2, space, (why) => told.push(why));
    assert.ok(cap.holding());
    space.bytes = 6 * MiB; // grown though the factor is 1
    space.gc?.();
    assert.equal(cap.holding(), false);
    assert.equal(cap.factor(), V8_GROWTH_FACTOR, "V8's own factor again");
    assert.equal(space.gc, null, 'no longer observed');
    assert.deepEqual(told, ['the young generation grew to 6 MiB past 4 MiB: this V8 does not keep to --semi-space-growth-factor']);
    cap.stop();
  });

  it("keeps a real node's young generation at the size while it allocates, where V8's own grows it further (Node 20 and 22; where V8 ignores the factor it lets go)", () => {
    // Objects that survive a scavenge or two, as a tick's do: V8 grows the young generation for them.
    const churn = `const v8 = await import('node:v8');
      const size = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
      let max = 0, keep = [];
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 100000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 150000) keep = []; }
        max = Math.max(max, size());
        await new Promise((r) => setImmediate(r));
      }`;
    const run = (capMiB: number | null): { max: number; holding: boolean | null; told: string[] } => {
      const mod = fileURLToPath(new URL('../../src/app/young-cap.js', import.meta.url));
      const script = `let cap = { holding: () => null }, told = [];
        ${capMiB === null ? '' : `const { capYoungGeneration } = await import(${JSON.stringify(mod)}); cap = capYoungGeneration(${capMiB}, undefined, (why) => told.push(why));`}
        ${churn}
        console.log(JSON.stringify({ max, holding: cap.holding(), told }));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim()) as { max: number; holding: boolean | null; told: string[] };
    };
    const own = run(null).max;
    const capped = run(2);
    if (capped.holding === true) {
      assert.equal(capped.max, 2 * 2 * MiB, `two semi-spaces of 2 MiB: ${capped.max / MiB} MiB`);
      assert.ok(own > capped.max, `V8's own grew further: ${own / MiB} MiB vs ${capped.max / MiB} MiB`);
      assert.deepEqual(capped.told, []);
    } else {
      assert.match(capped.told.join('\n'), /^the young generation grew to [\d.]+ MiB past 4 MiB: this V8 does not keep to --semi-space-growth-factor$/, 'let go, saying why');
    }
    // Where it matters (no restart before Node 22.15), it holds: V8 11.3 (Node 20) and 12.4 (Node 22).
    const major = Number(process.versions.node.split('.')[0]);
    if (major < 24) assert.equal(capped.holding, true, `holds on Node ${process.versions.node}`);
  });
});
