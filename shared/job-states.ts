/**
 * Print job lifecycle (design §5) and CloudPRNT-style result codes.
 *
 *   queued -> dispatched -> accepted -> printed | failed | unconfirmed
 *   any non-terminal -> expired | canceled
 */

/** Every state a print job can be in. */
export const JOB_STATES = ['queued', 'dispatched', 'accepted', 'printed', 'failed', 'unconfirmed', 'expired', 'canceled'] as const
/** A print job state. */
export type JobState = typeof JOB_STATES[number]

/** States that never change again. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['printed', 'failed', 'unconfirmed', 'expired', 'canceled'])

/** Order of the states; a job only moves forward (the database's result batches use it too, migration 0006). */
export const JOB_STATE_RANK: Readonly<Record<JobState, number>> = {
  queued: 0, dispatched: 1, accepted: 2, printed: 3, failed: 3, unconfirmed: 3, expired: 3, canceled: 3
}

/** True when a job in `from` may move to `to` (monotonic; terminal states are final). */
export function canTransition (from: JobState, to: JobState): boolean {
  if (TERMINAL_JOB_STATES.has(from)) return false
  return JOB_STATE_RANK[to] > JOB_STATE_RANK[from]
}

/**
 * States an agent reports in a job result. `canceled`: the agent got the server's
 * `job-cancel` before the job started printing, and will never print it.
 */
export const RESULT_STATES = ['accepted', 'printed', 'failed', 'unconfirmed', 'expired', 'canceled'] as const
/** A state an agent reports. */
export type ResultState = typeof RESULT_STATES[number]

/**
 * Result codes after Star CloudPRNT's families: 2xx success, 4xx printer or media
 * trouble, 5xx problems with the job itself.
 */
export const RESULT_CODES = Object.freeze({
  /** Accepted into the agent's journal. */
  ACCEPTED: 202,
  /** Printed, post-print status clean. */
  PRINTED: 200,
  /** Printer could not be reached or did not answer. */
  PRINTER_OFFLINE: 400,
  /** Paper out. */
  PAPER_OUT: 410,
  /** Cover open. */
  COVER_OPEN: 420,
  /** Printer reported an error (cutter, mechanical). */
  PRINTER_ERROR: 430,
  /** Printer is not known to this agent. */
  UNKNOWN_PRINTER: 440,
  /** Job content could not be rendered. */
  BAD_CONTENT: 510,
  /** Job past its deadline before it was printed. */
  EXPIRED: 520,
  /** The agent crashed between sending bytes and recording the outcome. */
  UNCONFIRMED: 530,
  /** Canceled on request before it started printing (the agent's confirmation). */
  CANCELED: 540
})
