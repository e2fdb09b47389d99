/**
 * Problems: input Fleetwarden cannot use — an instance tag, a window, a window's tag — reported and left alone
 * (docs/development.md, rule 8). A problem names where it was found and why; it never stops anything else.
 */
export const PROBLEM_SOURCES = ['instance', 'window'] as const;
export type ProblemSource = (typeof PROBLEM_SOURCES)[number];

export interface Problem {
  /** What carries the bad value: an instance or a maintenance window. */
  readonly source: ProblemSource;
  /** The instance id or the window's name. */
  readonly subject: string;
  /** The tag key or attribute holding the value (`fleetwarden:subfleet-name`, `Schedule`). */
  readonly field: string;
  readonly value: string;
  readonly reason: string;
}

/** A problem as reported: with the first instant it was seen (kept while it lasts). */
export interface ReportedProblem extends Problem {
  readonly since: number;
}

/** One problem per source, subject and field: a changed value or reason is the same problem, updated. */
export function problemKey(p: Problem): string {
  return `${p.source}\u0000${p.subject}\u0000${p.field}`;
}

export function describeProblem(p: Problem): string {
  return `${p.source} ${p.subject}: ${p.field}=${JSON.stringify(p.value)}: ${p.reason}`;
}

/**
 * The problems now reported, given those found this tick and those reported before: a lasting problem keeps its
 * `since`; `appeared` and `cleared` say what changed (for the history, once each).
 */
export function reconcileProblems(before: readonly ReportedProblem[], found: readonly Problem[], now: number): { readonly current: ReportedProblem[]; readonly appeared: ReportedProblem[]; readonly cleared: ReportedProblem[] } {
  const prior = new Map(before.map((p) => [problemKey(p), p]));
  const current: ReportedProblem[] = [];
  const appeared: ReportedProblem[] = [];
  const seen = new Set<string>();
  for (const p of found) {
    const key = problemKey(p);
    if (seen.has(key)) continue;
    seen.add(key);
    const old = prior.get(key);
    const same = old !== undefined && old.value === p.value && old.reason === p.reason;
    const reported = { ...p, since: old?.since ?? now };
    current.push(reported);
    if (!same) appeared.push(reported);
  }
  const cleared = before.filter((p) => !seen.has(problemKey(p)));
  return { current, appeared, cleared };
}
