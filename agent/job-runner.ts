/**
 * Prints one journaled job, from "accepted" to an outcome:
 *
 *   wait for the printer's config -> check expiry -> render -> connect -> status check
 *   -> check expiry again -> journal `printing` -> write each copy -> status check
 *   -> journal the outcome -> publish the result
 *
 * `printing` is journaled (fsync) right before the first byte goes out: a crash after
 * it leaves a job that may or may not be on paper, which the next start reports as
 * `unconfirmed` instead of printing it again (design §6). Failures before it are safe
 * to report as `failed`; nothing reached the paper.
 */
import { RESULT_CODES } from '../shared/job-states.js'
import type { Logger } from '../shared/logger.js'
import type { PrintJobMessage, PrinterConfig } from '../shared/messages.js'
import { AgentStoppedError } from './errors.js'
import type { Journal } from './journal.js'
import type { Outcome } from './journal-records.js'
import type { PrinterDirectory } from './printer-directory.js'
import { renderDocument } from './printers/render.js'
import { canPrint, checkPrinterStatus, failureCodeFor, type PrinterStatus } from './printers/status-check.js'
import type { PrinterTransport, TransportFactory } from './printers/transport.js'
import type { ResultPublisher } from './result-publisher.js'
import type { StatusReporter } from './status-reporter.js'

/** Default time a job waits for the first config, in ms. */
export const DEFAULT_CONFIG_WAIT_MS = 15_000

/** What {@link runJob} needs. */
export interface JobRunnerDeps {
  readonly journal: Journal
  readonly directory: PrinterDirectory
  readonly transports: TransportFactory
  readonly results: ResultPublisher
  readonly statuses: StatusReporter
  readonly logger: Logger
  readonly configWaitMs: number
  readonly statusTimeoutMs: number
  readonly now: () => number
}

/** Print a journaled job and settle it. Never rejects. */
export async function runJob (jobId: string, deps: JobRunnerDeps): Promise<void> {
  const entry = deps.journal.get(jobId)
  const job = entry?.job
  if (entry === undefined || job === undefined || entry.phase !== 'accepted') return
  const log = deps.logger.child({ jobId, correlationId: job.correlationId })
  try {
    const outcome = await printJob(job, deps, log)
    await deps.journal.settle(jobId, outcome)
    log.info({ state: outcome.state, code: outcome.code, detail: outcome.detail }, outcome.state === 'printed' ? 'job printed' : 'job not printed')
    deps.results.publishOutcome(jobId)
  } catch (err) {
    // Stopping mid-wait leaves the job `accepted`, to be printed after the next start.
    if (err instanceof AgentStoppedError) return
    log.error({ err }, 'job processing failed')
  }
}

async function printJob (job: PrintJobMessage, deps: JobRunnerDeps, log: Logger): Promise<Outcome> {
  const printer = await deps.directory.waitFor(job.printerId, deps.configWaitMs)
  if (printer === undefined) {
    return { state: 'failed', code: RESULT_CODES.UNKNOWN_PRINTER, detail: `printer ${job.printerId} is not configured for this agent` }
  }
  const expired = expiry(job, deps.now)
  if (expired !== null) return expired
  let document: Buffer
  try {
    document = renderDocument(job.content, printer)
  } catch (err) {
    return { state: 'failed', code: RESULT_CODES.BAD_CONTENT, detail: (err as Error).message }
  }
  const transport = deps.transports(printer.connection)
  try {
    return await deliver(job, printer, transport, document, deps, log)
  } finally {
    await transport.close().catch((err: unknown) => { log.debug({ err }, 'printer connection close failed') })
  }
}

async function deliver (job: PrintJobMessage, printer: PrinterConfig, transport: PrinterTransport, document: Buffer, deps: JobRunnerDeps, log: Logger): Promise<Outcome> {
  try {
    await transport.open()
  } catch (err) {
    const detail = (err as Error).message
    deps.statuses.report(printer.id, { state: 'offline', detail })
    return { state: 'failed', code: RESULT_CODES.PRINTER_OFFLINE, detail }
  }
  const before = await check(printer, transport, deps)
  if (!canPrint(before.state)) return failure(before)
  const expired = expiry(job, deps.now)
  if (expired !== null) return expired
  await deps.journal.markPrinting(job.jobId)
  log.debug({ printerId: printer.id, bytes: document.length, copies: job.copies }, 'job printing')
  try {
    for (let copy = 0; copy < job.copies; copy++) await transport.write(document)
  } catch (err) {
    // Some bytes may have reached the paper: only a person can tell.
    return { state: 'unconfirmed', code: RESULT_CODES.UNCONFIRMED, detail: (err as Error).message }
  }
  const after = await check(printer, transport, deps)
  if (!canPrint(after.state)) return failure(after)
  return { state: 'printed', code: RESULT_CODES.PRINTED }
}

async function check (printer: PrinterConfig, transport: PrinterTransport, deps: JobRunnerDeps): Promise<PrinterStatus> {
  let status: PrinterStatus
  try {
    status = await checkPrinterStatus(transport, deps.statusTimeoutMs)
  } catch (err) {
    status = { state: 'offline', detail: (err as Error).message }
  }
  deps.statuses.report(printer.id, status)
  return status
}

function failure (status: PrinterStatus): Outcome {
  return { state: 'failed', code: failureCodeFor(status.state), detail: status.detail ?? `printer is ${status.state}` }
}

function expiry (job: PrintJobMessage, now: () => number): Outcome | null {
  if (now() < Date.parse(job.expiresAt)) return null
  return { state: 'expired', code: RESULT_CODES.EXPIRED, detail: `job expired at ${job.expiresAt}` }
}

/** The outcome of a job that arrives already past its deadline, or `null`. */
export function expiredOnArrival (job: PrintJobMessage, now: () => number): Outcome | null {
  return expiry(job, now)
}
