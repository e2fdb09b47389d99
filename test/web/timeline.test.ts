/**
 * The shared timeline renderer (src/web/timeline.ts) draws what it is given, where it belongs: each window period
 * as one rect spanning its start to end on the scale of the range, start-ahead and cutoff beside it, each
 * instance's states as consecutive bars with the change's reason on hover — and escapes what it prints.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { axisTicks, renderTimeline, segments, type TimelineInput } from '../../src/web/timeline.js';

const H = 3_600_000;
const FROM = Date.UTC(2026, 5, 1);
const TO = FROM + 24 * H;

/** The attributes of every element with this class: its data- attributes and its (first) rect's geometry. */
function elements(svg: string, cls: string): { attrs: Record<string, string>; rect: Record<string, number>; title: string }[] {
  const out: { attrs: Record<string, string>; rect: Record<string, number>; title: string }[] = [];
  for (const m of svg.matchAll(new RegExp(`<g class="${cls}"([^>]*)><title>([^<]*)</title><rect ([^>]*)/>`, 'g'))) {
    const attrs = Object.fromEntries([...(m[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1] ?? '', a[2] ?? '']));
    const rect = Object.fromEntries([...(m[3] ?? '').matchAll(/(x|y|width|height)="([\d.]+)"/g)].map((a) => [a[1] ?? '', Number(a[2])]));
    out.push({ attrs, rect, title: m[2] ?? '' });
  }
  return out;
}

const base: TimelineInput = {
  group: 'web',
  from: FROM,
  to: TO,
  width: 960,
  periods: [
    { window: 'nightly', activeFrom: FROM + 1.75 * H, start: FROM + 2 * H, end: FROM + 5 * H, lastTaskStart: FROM + 4 * H },
    { window: 'nightly', activeFrom: FROM + 13.75 * H, start: FROM + 14 * H, end: FROM + 17 * H },
    { window: 'patch', activeFrom: FROM + 8 * H, start: FROM + 8 * H, end: FROM + 9 * H, description: 'a <b> & c' },
  ],
  instances: [
    {
      id: 'i-0001',
      initial: 'stopped',
      changes: [
        { at: FROM + 1.75 * H, state: 'starting', reason: 'window nightly is coming' },
        { at: FROM + 2 * H, state: 'running', reason: 'booted' },
        { at: FROM + 5 * H, state: 'stopped', reason: 'window over' },
      ],
    },
  ],
};

// The plot spans x 150 → 952 (label column 150, padding 8) for the 24 h range.
const X0 = 150;
const PER_H = (960 - 150 - 8) / 24;

describe('renderTimeline', () => {
  it('draws every window period as one rect at its start with its duration as width', () => {
    const svg = renderTimeline(base);
    const periods = elements(svg, 'fw-period');
    assert.equal(periods.length, 3);
    for (const p of base.periods) {
      const el = periods.find((e) => Number(e.attrs['data-start']) === p.start && e.attrs['data-window'] === p.window);
      assert.ok(el, `period ${p.window} at ${p.start} drawn`);
      assert.ok(Math.abs((el.rect['x'] ?? NaN) - (X0 + ((p.start - FROM) / H) * PER_H)) < 0.01, `x of ${p.window}`);
      assert.ok(Math.abs((el.rect['width'] ?? NaN) - ((p.end - p.start) / H) * PER_H) < 0.02, `width of ${p.window}`);
    }
  });

  it('draws start-ahead before a period and the cutoff at its end, each with its own hover text', () => {
    const svg = renderTimeline(base);
    const ahead = elements(svg, 'fw-ahead');
    assert.equal(ahead.length, 2, 'the two nightly periods have a start-ahead; patch has none');
    assert.ok(Math.abs((ahead[0]?.rect['width'] ?? NaN) - 0.25 * PER_H) < 0.02);
    const cutoff = elements(svg, 'fw-cutoff');
    assert.equal(cutoff.length, 1);
    assert.ok(Math.abs((cutoff[0]?.rect['x'] ?? NaN) - (X0 + 4 * PER_H)) < 0.01);
    assert.match(cutoff[0]?.title ?? '', /no task starts after this/);
  });

  it('draws each state from its change to the next, with the reason on hover', () => {
    const bars = elements(renderTimeline(base), 'fw-state');
    assert.deepEqual(
      bars.map((b) => [b.attrs['data-state'], Number(b.attrs['data-start']), Number(b.attrs['data-end'])]),
      [
        ['stopped', FROM, FROM + 1.75 * H],
        ['starting', FROM + 1.75 * H, FROM + 2 * H],
        ['running', FROM + 2 * H, FROM + 5 * H],
        ['stopped', FROM + 5 * H, TO],
      ],
    );
    assert.match(bars[2]?.title ?? '', /running .*: booted$/);
  });

  it('clips to the range: a period before it is left out, one across its end ends at the edge', () => {
    const svg = renderTimeline({ ...base, periods: [{ window: 'w', activeFrom: FROM - 5 * H, start: FROM - 5 * H, end: FROM - 4 * H }, { window: 'w', activeFrom: TO - H, start: TO - H, end: TO + 3 * H }] });
    const periods = elements(svg, 'fw-period');
    assert.equal(periods.length, 1);
    assert.ok(Math.abs((periods[0]?.rect['x'] ?? 0) + (periods[0]?.rect['width'] ?? 0) - (960 - 8)) < 0.01);
  });

  it('escapes names, reasons and descriptions', () => {
    const svg = renderTimeline({ ...base, instances: [{ id: 'i-<x>', initial: 'running', changes: [{ at: FROM + H, state: 'draining', reason: '"quoted" & <tag>' }] }] });
    assert.ok(!svg.includes('<b>') && !svg.includes('<tag>') && !svg.includes('<x>'));
    assert.ok(svg.includes('a &lt;b&gt; &amp; c') && svg.includes('&quot;quoted&quot; &amp; &lt;tag&gt;'));
  });

  it('marks states for print: hatched transitional states, a legend naming every state', () => {
    const svg = renderTimeline(base);
    assert.match(svg, /data-state="starting"[^]*?fill="url\(#fw-hatch\)"/);
    for (const s of ['running', 'stopped', 'starting', 'draining', 'unuseable', 'excluded', 'window', 'start-ahead', 'cutoff']) assert.ok(svg.includes(`>${s}</text>`), s);
  });
});

describe('segments and axisTicks', () => {
  it('an instance whose state is unknown before its first change starts there', () => {
    assert.deepEqual(segments({ id: 'i', changes: [{ at: FROM + H, state: 'running', reason: 'r' }] }, FROM, TO), [{ start: FROM + H, end: TO, state: 'running', reason: 'r' }]);
  });
  it('changes before the range set the state it starts with', () => {
    assert.deepEqual(segments({ id: 'i', initial: 'stopped', changes: [{ at: FROM - H, state: 'running', reason: 'r' }] }, FROM, TO), [{ start: FROM, end: TO, state: 'running', reason: 'r' }]);
  });
  it('ticks at a round UTC step within the range', () => {
    assert.deepEqual(axisTicks(FROM, FROM + 7 * 24 * H, 8), Array.from({ length: 8 }, (_, i) => FROM + i * 24 * H));
    assert.deepEqual(axisTicks(FROM + 30 * 60_000, FROM + 3 * H, 12), [FROM + H, FROM + 2 * H, FROM + 3 * H]);
  });
});

describe('timelineInput (the API shapes to the picture)', () => {
  it('takes the group’s periods and each instance’s transitions in time order, the first one’s from as the state before', async () => {
    const { timelineInput } = await import('../../src/web/timeline-data.js');
    const iso = (ms: number): string => new Date(ms).toISOString();
    const input = timelineInput(
      'web',
      FROM,
      TO,
      [
        { group: 'web', window: 'nightly', activeFrom: iso(FROM + H), start: iso(FROM + 2 * H), end: iso(FROM + 3 * H), lastTaskStart: iso(FROM + 2.5 * H) },
        { group: 'api', window: 'other', activeFrom: iso(FROM), start: iso(FROM), end: iso(FROM + H) },
      ],
      [
        { at: FROM + 2 * H, group: 'web', instance: 'i-b', from: 'starting', to: 'running', reason: 'booted' },
        { at: FROM + H, group: 'web', instance: 'i-b', from: 'stopped', to: 'starting', reason: 'ahead' },
        { at: FROM + H, group: 'api', instance: 'i-x', from: 'stopped', to: 'starting', reason: 'other group' },
      ],
    );
    assert.deepEqual(input.periods, [{ window: 'nightly', activeFrom: FROM + H, start: FROM + 2 * H, end: FROM + 3 * H, lastTaskStart: FROM + 2.5 * H, description: null }]);
    assert.deepEqual(input.instances, [{ id: 'i-b', initial: 'stopped', changes: [{ at: FROM + H, state: 'starting', reason: 'ahead' }, { at: FROM + 2 * H, state: 'running', reason: 'booted' }] }]);
  });

  it('bars take keyboard focus only when asked', () => {
    assert.ok(!renderTimeline(base).includes('tabindex'));
    const focusable = renderTimeline({ ...base, focusable: true });
    assert.equal((focusable.match(/tabindex="0"/g) ?? []).length, elements(focusable, 'fw-period').length + elements(focusable, 'fw-ahead').length + elements(focusable, 'fw-cutoff').length + elements(focusable, 'fw-state').length);
  });
});

describe('axis labels', () => {
  it('never overlap, whatever the width', () => {
    for (const width of [320, 600, 960, 1200, 3840]) {
      const svg = renderTimeline({ ...base, from: FROM, to: FROM + 72 * H, width });
      const spans = [...svg.matchAll(/<g class="fw-tick"><line x1="([\d.]+)"[^>]*\/><text [^>]*text-anchor="(\w+)"[^>]*>([^<]*)<\/text>/g)]
        .filter((m) => m[3] !== '')
        .map((m) => {
          const x = Number(m[1]);
          const w = (m[3] ?? '').length * 6;
          const left = m[2] === 'end' ? x - w : m[2] === 'middle' ? x - w / 2 : x;
          return [left, left + w] as const;
        });
      assert.ok(spans.length >= 2, `labels at width ${width}`);
      for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], `width ${width}: label ${i} overlaps the previous`);
    }
  });
});
