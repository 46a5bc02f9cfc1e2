/**
 * Reconnect delays: exponential with "equal jitter" (half fixed, half random), so a
 * broker restart does not see every branch of every tenant reconnect in the same
 * second, and no agent retries in a tight loop.
 */

/** Bounds of the reconnect delay, in ms. */
export interface BackoffOptions {
  readonly initialMs: number
  readonly maxMs: number
}

/** Defaults: first retry after 0.5-1 s, never more than a minute apart. */
export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 1000, maxMs: 60_000 })

/** Delay before reconnect attempt `attempt` (0 for the first retry), in ms. */
export function backoffDelay (attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}
