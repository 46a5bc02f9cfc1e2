/**
 * The agent's `jobs` topic carries two kinds: `print-job` and `job-cancel` (one topic,
 * so MQTT delivers a job and its cancel in the order the server sent them). This picks
 * the handler by `kind`.
 */
import type { Logger } from '../../shared/logger.js'
import { decodeMessage, InvalidMessageError } from '../../shared/messages.js'
import { createJobCancelHandler, type JobCancelHandlerDeps } from './job-cancel.js'
import { createPrintJobHandler, type PrintJobHandlerDeps } from './print-job.js'

/**
 * Larger payloads are never a valid `job-cancel` (its fields are bounded to well under
 * 1 KiB), so print jobs, which can be large, are not parsed twice.
 */
const MAX_CANCEL_BYTES = 4096

/** What the jobs-channel handler needs. */
export type JobsChannelDeps = PrintJobHandlerDeps & JobCancelHandlerDeps & { readonly logger: Logger }

/** Handler of the agent's `jobs` topic. */
export function createJobsChannelHandler (deps: JobsChannelDeps): (payload: Buffer) => Promise<void> {
  const printJob = createPrintJobHandler(deps)
  const cancel = createJobCancelHandler(deps)
  return async (payload) => {
    if (payload.length <= MAX_CANCEL_BYTES && kindOf(payload) === 'job-cancel') {
      try {
        await cancel(decodeMessage('job-cancel', payload))
      } catch (err) {
        if (!(err instanceof InvalidMessageError)) throw err
        // Acknowledged: delivering it again cannot make it valid.
        deps.logger.warn({ reason: err.message }, 'job cancel message invalid')
      }
      return
    }
    await printJob(payload)
  }
}

function kindOf (payload: Buffer): unknown {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'))
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>).kind : undefined
  } catch {
    return undefined
  }
}
