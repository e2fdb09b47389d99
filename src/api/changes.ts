/**
 * Wakes long polls (`GET /v1/instances/{id}?wait=…&since=…`): the controller notifies after every tick it saves and
 * after every write the API makes, and each waiting poll looks again. Without a feed (an API process apart from the
 * controller), a long poll looks again every `FALLBACK_MS`.
 */
export class ChangeFeed {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    const now = [...this.waiters];
    this.waiters.clear();
    for (const wake of now) wake();
  }

  /** Resolves at the next notification, or after `ms`, whichever comes first. */
  next(ms: number): Promise<void> {
    return new Promise((resolveNext) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolveNext();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

/** How often a long poll looks again when no feed tells it of changes. */
export const FALLBACK_MS = 1000;

/** Waits until `look` answers something other than `since`, or `waitMs` passes; returns the last answer. Without a feed, looks every `lookEveryMs`. */
export async function longPoll<T extends { readonly version: string } | null>(look: () => Promise<T>, since: string | undefined, waitMs: number, feed: ChangeFeed | undefined, lookEveryMs = FALLBACK_MS): Promise<T> {
  let answer = await look();
  if (since === undefined || waitMs <= 0) return answer;
  // An object: the timer sets it while the loop awaits.
  const state = { timedOut: false };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolveTimeout) => {
    timer = setTimeout(() => {
      state.timedOut = true;
      resolveTimeout();
    }, waitMs);
  });
  try {
    while (!state.timedOut && answer !== null && answer.version === since) {
      await Promise.race([timeout, feed === undefined ? new Promise((r) => setTimeout(r, lookEveryMs)) : feed.next(waitMs)]);
      answer = await look(); // once more after the time is up: the answer is as fresh as it can be
    }
  } finally {
    clearTimeout(timer);
  }
  return answer;
}
