/**
 * The timeline picture (issue 15): a Gantt of one group's window periods (start-ahead, window, cutoff) and each
 * instance's lifecycle states over a time range, as an SVG string. Pure — no DOM, no clock, no Node — so the same
 * function draws the dashboard in the browser and the `simulate --report` file on the command line.
 *
 * Readable without colour: the palette is Okabe–Ito (safe for the common colour-vision deficiencies), transitional
 * states carry a hatch pattern, every bar wide enough is labelled, and each element has a `<title>` (the hover
 * text: the state's reason, the window's times). Elements carry classes and data- attributes for tests and scripts:
 * `fw-period` (one per window period), `fw-ahead`, `fw-cutoff`, `fw-state` with `data-state`.
 */

export interface TimelinePeriod {
  /** The window's name. */
  readonly window: string;
  /** When the period becomes active: start − start-ahead (epoch ms). */
  readonly activeFrom: number;
  readonly start: number;
  readonly end: number;
  /** No task starts after this (end − cutoff); absent or equal to end: no cutoff. */
  readonly lastTaskStart?: number | undefined;
  readonly description?: string | null | undefined;
}

export interface TimelineChange {
  readonly at: number;
  readonly state: string;
  readonly reason: string;
}

export interface TimelineInstance {
  readonly id: string;
  /** The state before the first change (at `from`); absent: unknown until the first change. */
  readonly initial?: string | undefined;
  /** Ascending by `at`. */
  readonly changes: readonly TimelineChange[];
}

export interface TimelineInput {
  readonly group: string;
  readonly from: number;
  readonly to: number;
  readonly periods: readonly TimelinePeriod[];
  readonly instances: readonly TimelineInstance[];
  /** Drawn as a vertical line when within the range. */
  readonly now?: number | undefined;
  /** Total width in px (default 960); the SVG scales with its container through its viewBox. */
  readonly width?: number | undefined;
  /** Bars can take keyboard focus (tabindex 0), for a page that shows the focused bar's text (the dashboard). */
  readonly focusable?: boolean | undefined;
  /** The style of each row state, and the legend's entries (default: the lifecycle states, STATE_STYLE). */
  readonly palette?: Readonly<Record<string, StateStyle>> | undefined;
}

export interface StateStyle {
  readonly fill: string;
  readonly ink: string;
  readonly pattern: 'none' | 'hatch' | 'cross' | 'dots';
}

/** Okabe–Ito colours per lifecycle state, with a pattern for those that pass (print and colour-blind readers). */
export const STATE_STYLE: Readonly<Record<string, StateStyle>> = {
  running: { fill: '#009E73', ink: '#ffffff', pattern: 'none' },
  stopped: { fill: '#D9D9D9', ink: '#000000', pattern: 'none' },
  starting: { fill: '#56B4E9', ink: '#000000', pattern: 'hatch' },
  initializing: { fill: '#0072B2', ink: '#ffffff', pattern: 'hatch' },
  draining: { fill: '#E69F00', ink: '#000000', pattern: 'hatch' },
  stopping: { fill: '#F0E442', ink: '#000000', pattern: 'hatch' },
  unuseable: { fill: '#D55E00', ink: '#ffffff', pattern: 'cross' },
  excluded: { fill: '#CC79A7', ink: '#000000', pattern: 'dots' },
};
const UNKNOWN_STYLE = { fill: '#ffffff', ink: '#000000', pattern: 'none' } as const;
const PERIOD_FILL = '#0072B2';
const AHEAD_FILL = '#56B4E9';

const LABEL_W = 150;
const AXIS_H = 28;
const ROW_H = 22;
const BAR_H = 16;
const LEGEND_H = 26;
const PAD = 8;

/** Escapes text for an XML text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** 2026-06-01 14:00Z: compact and unambiguous (UTC). */
export function shortInstant(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

const HOUR = 3_600_000;
const TICK_STEPS = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 7 * 24 * HOUR];

/** Axis ticks at a round step (UTC) giving at most about `max` ticks over the range. */
export function axisTicks(from: number, to: number, max = 12): number[] {
  const span = Math.max(1, to - from);
  const step = TICK_STEPS.find((s) => span / s <= max) ?? TICK_STEPS[TICK_STEPS.length - 1] ?? span;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

/** The x of an instant within [from, to] mapped onto [x0, x0 + w], clamped to the range. */
function scale(from: number, to: number, x0: number, w: number): (t: number) => number {
  const span = Math.max(1, to - from);
  return (t) => x0 + (Math.min(Math.max(t, from), to) - from) * (w / span);
}

const round = (n: number): string => String(Math.round(n * 100) / 100);

/** The state segments of one instance within [from, to): each state from its change until the next. */
export function segments(inst: TimelineInstance, from: number, to: number): { start: number; end: number; state: string; reason: string }[] {
  const out: { start: number; end: number; state: string; reason: string }[] = [];
  let state = inst.initial;
  let since = from;
  let reason = 'state at the start of the range';
  for (const c of inst.changes) {
    if (c.at >= to) break;
    if (c.at > since && state !== undefined) out.push({ start: since, end: c.at, state, reason });
    state = c.state;
    reason = c.reason;
    since = Math.max(from, c.at);
  }
  if (state !== undefined && to > since) out.push({ start: since, end: to, state, reason });
  return out;
}

function defs(): string {
  const pats = [
    `<pattern id="fw-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-opacity="0.35" stroke-width="2"/></pattern>`,
    `<pattern id="fw-cross" patternUnits="userSpaceOnUse" width="6" height="6"><path d="M0 0L6 6M6 0L0 6" stroke="#000" stroke-opacity="0.4" stroke-width="1"/></pattern>`,
    `<pattern id="fw-dots" patternUnits="userSpaceOnUse" width="5" height="5"><circle cx="2.5" cy="2.5" r="1" fill="#000" fill-opacity="0.45"/></pattern>`,
    `<pattern id="fw-cut" patternUnits="userSpaceOnUse" width="5" height="5" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="5" stroke="#000" stroke-opacity="0.5" stroke-width="1.5"/></pattern>`,
  ];
  return `<defs>${pats.join('')}</defs>`;
}

/** One bar: its fill, its pattern overlay, a label when it fits, and the hover title. */
function bar(cls: string, attrs: string, x: number, y: number, w: number, h: number, fill: string, pattern: string, label: string, ink: string, title: string): string {
  const overlay = pattern === 'none' ? '' : `<rect x="${round(x)}" y="${y}" width="${round(w)}" height="${h}" fill="url(#fw-${pattern})"/>`;
  const text = w >= label.length * 6.2 + 6 ? `<text x="${round(x + 3)}" y="${y + h / 2 + 4}" fill="${ink}" font-size="10">${escapeXml(label)}</text>` : '';
  return `<g class="${cls}" ${attrs}><title>${escapeXml(title)}</title><rect x="${round(x)}" y="${y}" width="${round(w)}" height="${h}" fill="${fill}" stroke="#000" stroke-opacity="0.25"/>${overlay}${text}</g>`;
}

/** The timeline of one group as a standalone SVG document fragment (`<svg>…</svg>`). */
export function renderTimeline(input: TimelineInput): string {
  const focus = input.focusable === true ? ' tabindex="0"' : '';
  const { from, to } = input;
  const width = input.width ?? 960;
  const plotW = width - LABEL_W - PAD;
  const x = scale(from, to, LABEL_W, plotW);
  const windowNames = [...new Set(input.periods.map((p) => p.window))];
  const rows = windowNames.length + input.instances.length;
  const height = AXIS_H + Math.max(1, rows) * ROW_H + LEGEND_H + PAD;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="fw-timeline" role="img" viewBox="0 0 ${width} ${height}" width="100%" font-family="system-ui, sans-serif" data-group="${escapeXml(input.group)}" data-from="${from}" data-to="${to}">`);
  parts.push(`<title>${escapeXml(`Timeline of ${input.group}, ${shortInstant(from)} to ${shortInstant(to)}`)}</title>`);
  parts.push(defs());
  parts.push(`<rect class="fw-bg" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  // Axis: a gridline and label at each tick.
  let lastRight = -Infinity;
  for (const t of axisTicks(from, to, Math.max(2, Math.floor(plotW / 80)))) {
    const tx = x(t);
    const label = new Date(t).toISOString().slice(5, 16).replace('T', ' ');
    // Labels at the edges are anchored inside the picture, not cut in half; one that would overlap the previous
    // label is left out (its gridline stays).
    const anchor = tx > width - PAD - 40 ? 'end' : tx < LABEL_W + 40 ? 'start' : 'middle';
    const labelW = label.length * 6;
    const left = anchor === 'end' ? tx - labelW : anchor === 'middle' ? tx - labelW / 2 : tx;
    const crowded = left < lastRight + 6;
    if (!crowded) lastRight = left + labelW;
    parts.push(`<g class="fw-tick"><line x1="${round(tx)}" y1="${AXIS_H - 6}" x2="${round(tx)}" y2="${AXIS_H + rows * ROW_H}" stroke="#000" stroke-opacity="0.15"/><text x="${round(tx)}" y="${AXIS_H - 10}" font-size="10" text-anchor="${anchor}" fill="#000">${crowded ? '' : escapeXml(label)}</text></g>`);
  }
  let row = 0;
  const rowY = (r: number): number => AXIS_H + r * ROW_H + (ROW_H - BAR_H) / 2;
  for (const name of windowNames) {
    const y = rowY(row);
    parts.push(`<text class="fw-row-label" x="4" y="${y + BAR_H / 2 + 4}" font-size="11" font-weight="bold" fill="#000">${escapeXml(name.slice(0, 24))}</text>`);
    for (const p of input.periods.filter((q) => q.window === name)) {
      if (p.end <= from || p.activeFrom >= to) continue;
      const when = `${shortInstant(p.start)} – ${shortInstant(p.end)}`;
      if (p.activeFrom < p.start && p.start > from) {
        const ax = x(p.activeFrom);
        parts.push(bar('fw-ahead', `data-window="${escapeXml(name)}"${focus}`, ax, y + 4, x(p.start) - ax, BAR_H - 8, AHEAD_FILL, 'none', '', '#000', `${name}: start-ahead from ${shortInstant(p.activeFrom)} (instances prepared before the window)`));
      }
      const px = x(p.start);
      const pw = Math.max(1, x(p.end) - px);
      const desc = p.description ? ` — ${p.description}` : '';
      parts.push(bar('fw-period', `data-window="${escapeXml(name)}" data-start="${p.start}" data-end="${p.end}"${focus}`, px, y, pw, BAR_H, PERIOD_FILL, 'none', name, '#ffffff', `${name}: window ${when}${desc}`));
      if (p.lastTaskStart !== undefined && p.lastTaskStart < p.end && p.lastTaskStart < to) {
        const cx = x(p.lastTaskStart);
        parts.push(bar('fw-cutoff', `data-window="${escapeXml(name)}"${focus}`, cx, y, Math.max(1, x(p.end) - cx), BAR_H, '#ffffff', 'cut', '', '#000', `${name}: cutoff from ${shortInstant(p.lastTaskStart)} — no task starts after this`));
      }
    }
    row++;
  }
  for (const inst of input.instances) {
    const y = rowY(row);
    parts.push(`<text class="fw-row-label" x="4" y="${y + BAR_H / 2 + 4}" font-size="11" fill="#000">${escapeXml(inst.id.slice(0, 24))}</text>`);
    for (const s of segments(inst, from, to)) {
      const style = (input.palette ?? STATE_STYLE)[s.state] ?? UNKNOWN_STYLE;
      const sx = x(s.start);
      parts.push(bar('fw-state', `data-instance="${escapeXml(inst.id)}" data-state="${escapeXml(s.state)}" data-start="${s.start}" data-end="${s.end}"${focus}`, sx, y, Math.max(0.5, x(s.end) - sx), BAR_H, style.fill, style.pattern, s.state, style.ink, `${inst.id}: ${s.state} ${shortInstant(s.start)} – ${shortInstant(s.end)}: ${s.reason}`));
    }
    row++;
  }
  if (rows === 0) parts.push(`<text x="${LABEL_W}" y="${AXIS_H + 15}" font-size="12" fill="#000">No windows and no instances in this range.</text>`);
  if (input.now !== undefined && input.now >= from && input.now <= to) {
    const nx = round(x(input.now));
    parts.push(`<g class="fw-now"><title>now: ${shortInstant(input.now)}</title><line x1="${nx}" y1="${AXIS_H - 6}" x2="${nx}" y2="${AXIS_H + Math.max(1, rows) * ROW_H}" stroke="#D55E00" stroke-width="2" stroke-dasharray="4 2"/></g>`);
  }
  parts.push(legend(AXIS_H + Math.max(1, rows) * ROW_H + 6, input.palette ?? STATE_STYLE));
  parts.push('</svg>');
  return parts.join('');
}

function legend(y: number, palette: Readonly<Record<string, StateStyle>>): string {
  const items: { label: string; fill: string; pattern: string }[] = [
    { label: 'window', fill: PERIOD_FILL, pattern: 'none' },
    { label: 'start-ahead', fill: AHEAD_FILL, pattern: 'none' },
    { label: 'cutoff', fill: '#ffffff', pattern: 'cut' },
    ...Object.entries(palette).map(([label, s]) => ({ label, fill: s.fill, pattern: s.pattern })),
  ];
  let xPos = 4;
  const out: string[] = [`<g class="fw-legend">`];
  for (const it of items) {
    const overlay = it.pattern === 'none' ? '' : `<rect x="${xPos}" y="${y}" width="12" height="12" fill="url(#fw-${it.pattern})"/>`;
    out.push(`<rect x="${xPos}" y="${y}" width="12" height="12" fill="${it.fill}" stroke="#000" stroke-opacity="0.4"/>${overlay}<text x="${xPos + 15}" y="${y + 10}" font-size="10" fill="#000">${escapeXml(it.label)}</text>`);
    xPos += 22 + it.label.length * 6;
  }
  out.push('</g>');
  return out.join('');
}
