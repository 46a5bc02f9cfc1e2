/**
 * Handles a `print-job` message. Runs inside mqtt.js's `handleMessage`, so the PUBACK
 * leaves only after this resolves: everything here that must survive a crash is
 * journaled (fsync) before returning, and nothing here waits on the network (a QoS 1
 * publish awaited here would wait for a PUBACK that mqtt.js cannot read until this
 * returns). Printing happens later, on the printer's queue.
 */
import { isValidCorrelationId, isValidId, isValidJobId } from '../../shared/ids.js'
import { RESULT_CODES } from '../../shared/job-states.js'
import { lazyChild, type Logger } from '../../shared/logger.js'
import { decodeMessage, InvalidMessageError, type PrintJobMessage } from '../../shared/messages.js'
import type { Journal } from '../journal.js'
import { expiredOnArrival } from '../job-runner.js'
import type { PrinterQueues } from '../printer-queues.js'
import type { ResultPublisher } from '../result-publisher.js'

/** What the print-job handler needs. */
export interface PrintJobHandlerDeps {
  readonly journal: Journal
  readonly results: ResultPublisher
  readonly queues: PrinterQueues
  readonly logger: Logger
  readonly now: () => number
}

/** Handler of the agent's `jobs` topic. */
export function createPrintJobHandler (deps: PrintJobHandlerDeps): (payload: Buffer) => Promise<void> {
  return async (payload) => {
    let job: PrintJobMessage
    try {
      job = decodeMessage('print-job', payload)
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err
      await refuseInvalid(payload, err, deps)
      return
    }
    const log = lazyChild(deps.logger, { jobId: job.jobId, correlationId: job.correlationId })
    const known = deps.journal.get(job.jobId)
    if (known !== undefined) {
      // At-least-once delivery: the same job again, or a job canceled before it came.
      // Never print twice (or after a cancel); say what happened.
      if (known.outcome?.state === 'canceled') log.info('job canceled before it arrived: not printed')
      else log.info({ phase: known.phase }, 'job duplicate')
      if (known.outcome !== undefined) deps.results.publishOutcome(job.jobId, true)
      else deps.results.publishAccepted(known, true)
      return
    }
    const expired = expiredOnArrival(job, deps.now)
    if (expired !== null) {
      await deps.journal.acceptSettled(job, expired)
      log.info({ expiresAt: job.expiresAt }, 'job expired')
      deps.results.publishOutcome(job.jobId)
      return
    }
    await deps.journal.accept(job)
    log.info({ printerId: job.printerId, copies: job.copies }, 'job accepted')
    const entry = deps.journal.get(job.jobId)
    if (entry !== undefined) deps.results.publishAccepted(entry)
    deps.queues.enqueue(job.printerId, job.jobId)
  }
}

/**
 * A job message that does not validate. When it still names a job, printer and
 * correlation id, the job is settled as `failed` 510 so the server learns why; when it
 * does not, there is no one to tell but the log. Either way it is acknowledged, since
 * delivering it again cannot make it valid.
 */
async function refuseInvalid (payload: Buffer, err: InvalidMessageError, deps: PrintJobHandlerDeps): Promise<void> {
  const ids = identify(payload)
  if (ids === null) {
    deps.logger.warn({ reason: err.message }, 'job message invalid')
    return
  }
  const log = deps.logger.child({ jobId: ids.jobId, correlationId: ids.correlationId })
  if (deps.journal.get(ids.jobId) === undefined) {
    await deps.journal.acceptSettled(ids, { state: 'failed', code: RESULT_CODES.BAD_CONTENT, detail: err.message })
    log.warn({ reason: err.message }, 'job refused')
    deps.results.publishOutcome(ids.jobId)
  } else {
    deps.results.publishOutcome(ids.jobId, true)
  }
}

function identify (payload: Buffer): { jobId: string, printerId: string, correlationId: string } | null {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8'))
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { jobId, printerId, correlationId } = value as Record<string, unknown>
  if (!isValidJobId(jobId) || !isValidId(printerId) || !isValidCorrelationId(correlationId)) return null
  return { jobId, printerId, correlationId }
}
