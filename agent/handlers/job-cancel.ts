/**
 * Handles a `job-cancel` message: the server canceled a job it had already published.
 * Like the print-job handler it runs before the PUBACK, so the cancel is journaled
 * (fsync) before the broker forgets it; nothing here waits on the network.
 *
 * - job not seen yet: recorded as settled `canceled`, so its message, if it still
 *   arrives, is never printed;
 * - job waiting to print (queued, or waiting for paper): settled `canceled`, woken,
 *   never printed;
 * - job printing now: too late; its real outcome follows and the server keeps it in
 *   the history of the canceled job;
 * - job settled already (or canceled before): its recorded outcome is published again
 *   (the server sends a cancel again only while it has no answer).
 */
import { RESULT_CODES } from '../../shared/job-states.js'
import type { Logger } from '../../shared/logger.js'
import type { JobCancelMessage } from '../../shared/messages.js'
import type { CancelSignals } from '../cancel-signals.js'
import type { Journal } from '../journal.js'
import type { ResultPublisher } from '../result-publisher.js'

/** What the job-cancel handler needs. */
export interface JobCancelHandlerDeps {
  readonly journal: Journal
  readonly results: ResultPublisher
  readonly cancels: CancelSignals
  readonly logger: Logger
}

/** Handler of a decoded `job-cancel`. */
export function createJobCancelHandler (deps: JobCancelHandlerDeps): (message: JobCancelMessage) => Promise<void> {
  return async (message) => {
    const { jobId, printerId, correlationId } = message
    const log = deps.logger.child({ jobId, correlationId })
    const before = await deps.journal.cancel({ jobId, printerId, correlationId }, {
      state: 'canceled', code: RESULT_CODES.CANCELED, detail: 'canceled before it printed'
    })
    switch (before) {
      case 'unknown':
      case 'accepted':
        deps.cancels.cancel(jobId)
        log.info({ arrived: before === 'accepted' }, 'job canceled')
        deps.results.publishOutcome(jobId)
        return
      case 'printing':
        log.warn('job cancel too late: the job is printing')
        return
      case 'settled': {
        // The server sends a cancel again only while it has no answer: answer again.
        const outcome = deps.journal.get(jobId)?.outcome
        if (outcome?.state === 'canceled') log.info('job cancel again: confirmation sent again')
        else log.warn({ state: outcome?.state }, 'job cancel too late: the job is settled')
        deps.results.publishOutcome(jobId, true)
      }
    }
  }
}
