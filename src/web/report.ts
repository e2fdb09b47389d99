/**
 * The `simulate --report FILE.html` page: one self-contained HTML file — inline CSS and SVG, no script, nothing
 * fetched (its Content-Security-Policy forbids it) — so "what will happen this week" can be opened anywhere, mailed
 * and printed.
 */
import { escapeXml, renderTimeline, shortInstant, type TimelineInput } from './timeline.js';

export interface ReportInput {
  readonly title: string;
  readonly from: number;
  readonly to: number;
  readonly timelines: readonly TimelineInput[];
  /** Lines of the run's summary (counts), shown above the timelines. */
  readonly summary: readonly string[];
  /** Header and rows of a table (time in each state). */
  readonly table?: { readonly head: readonly string[]; readonly rows: readonly (readonly string[])[] };
}

export const REPORT_CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1rem auto; max-width: 1400px; padding: 0 1rem; color: #111; background: #fff; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: 2px 8px; text-align: left; }
.fw-timeline { display: block; max-width: 100%; height: auto; border: 1px solid #ccc; }
.note { color: #444; font-size: 0.9rem; }
@media print { body { max-width: none; } section { break-inside: avoid; } }
`;

export function renderReport(r: ReportInput): string {
  const table = r.table === undefined ? '' : `<table><thead><tr>${r.table.head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${r.table.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const sections = r.timelines.map((t) => `<section class="fw-group" data-group="${escapeXml(t.group)}"><h2>${escapeXml(t.group)}</h2>${renderTimeline({ ...t, width: 1200 })}</section>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(r.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<h1>${escapeXml(r.title)}</h1>
<p>${escapeXml(`${shortInstant(r.from)} → ${shortInstant(r.to)} (UTC)`)}</p>
${r.summary.map((l) => `<p>${escapeXml(l)}</p>`).join('\n')}
${table}
<p class="note">Hover a bar for its reason. Window periods are drawn from the schedules of the configuration; instances appear from their first state change in the simulation.</p>
${sections}
</body>
</html>
`;
}
