/**
 * Prints one journaled job, from "accepted" to an outcome:
 *
 *   wait for the printer's config -> check expiry -> render -> [connect -> status check
 *   -> check expiry again -> journal `printing` -> write each copy -> status check]
 *   -> journal the outcome -> publish the result
 *
 * While the printer is out of paper, has its cover open, is offline or does not answer,
 * the bracketed attempt is repeated with backoff until the printer can print or the
 * job expires (a kitchen ticket printed when the paper is back is worth more than a
 * failure; one printed after its deadline is not).
 *
 * `printing` is journaled (fsync) right before the first byte goes out: a crash after
 * it leaves a job that may or may not be on paper, which the next start reports as
 * `unconfirmed` instead of printing it again (design §6). The job is `printed` only when
 * the status check after the write is clean; otherwise it fails with the code of what
 * the printer reported (410 paper out, 420 cover open, 430 error, 400 no answer).
 */
import { RESULT_CODES } from '../shared/job-states.js'
import type { Logger } from '../shared/logger.js'
import type { PrintJobMessage, PrinterConfig } from '../shared/messages.js'
import { backoffDelay, type BackoffOptions } from './backoff.js'
import { AgentStoppedError } from './errors.js'
import type { Journal } from './journal.js'
import type { Outcome } from './journal-records.js'
import type { PrinterDirectory } from './printer-directory.js'
import type { PrinterLanes } from './printer-lanes.js'
import { renderDocument } from './printers/render.js'
import { canPrint, checkPrinterStatus, failureCodeFor, type PrinterStatus } from './printers/status-check.js'
import type { PrinterTransport, TransportFactory } from './printers/transport.js'
import type { ResultPublisher } from './result-publisher.js'
import { MISSES_FOR_OFFLINE, type StatusTracker } from './status-tracker.js'

/** Default time a job waits for the first config, in ms. */
export const DEFAULT_CONFIG_WAIT_MS = 15_000
/** Default retry delays while a printer cannot print: 1 s doubling to 30 s. */
export const DEFAULT_RETRY: BackoffOptions = Object.freeze({ initialMs: 1000, maxMs: 30_000 })

/** What {@link runJob} needs. */
export interface JobRunnerDeps {
  readonly journal: Journal
  readonly directory: PrinterDirectory
  readonly transports: TransportFactory
  readonly results: ResultPublisher
  readonly tracker: StatusTracker
  readonly lanes: PrinterLanes
  readonly logger: Logger
  readonly configWaitMs: number
  readonly statusTimeoutMs: number
  readonly retry: BackoffOptions
  /** Waits `ms`; rejects with {@link AgentStoppedError} when the agent stops. */
  readonly sleep: (ms: number) => Promise<void>
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
    // Stopping mid-wait leaves the job `accepted` (or `printing`), settled after the next start.
    if (err instanceof AgentStoppedError) return
    log.error({ err }, 'job processing failed')
  }
}

/** One attempt's result: an outcome, or a printer status to wait out. */
type Attempt = { readonly outcome: Outcome } | { readonly wait: PrinterStatus }

async function printJob (job: PrintJobMessage, deps: JobRunnerDeps, log: Logger): Promise<Outcome> {
  const printer = await deps.directory.waitFor(job.printerId, deps.configWaitMs)
  if (printer === undefined) {
    return { state: 'failed', code: RESULT_CODES.UNKNOWN_PRINTER, detail: `printer ${job.printerId} is not configured for this agent` }
  }
  const expired = expiry(job, deps.now)
  if (expired !== null) return expired
  let document: Buffer
  try {
    document = await renderDocument(job.content, printer)
  } catch (err) {
    return { state: 'failed', code: RESULT_CODES.BAD_CONTENT, detail: (err as Error).message }
  }
  let waitedFor: PrinterStatus | undefined
  for (let attempt = 0; ; attempt++) {
    const result = await deps.lanes.run(printer.id, async () => await attemptPrint(job, printer, document, deps, log))
    if ('outcome' in result) {
      const { outcome } = result
      if (outcome.state !== 'expired' || waitedFor === undefined) return outcome
      return { ...outcome, detail: `${outcome.detail ?? 'job expired'} while the printer was ${waitedFor.state}` }
    }
    waitedFor = result.wait
    const untilExpiry = Date.parse(job.expiresAt) - deps.now()
    if (untilExpiry <= 0) {
      return { state: 'expired', code: RESULT_CODES.EXPIRED, detail: `job expired at ${job.expiresAt} while the printer was ${result.wait.state}` }
    }
    const delay = Math.min(backoffDelay(attempt, deps.retry), untilExpiry)
    log.info({ printerId: printer.id, state: result.wait.state, detail: result.wait.detail, retryInMs: delay }, 'job waiting for printer')
    await deps.sleep(delay)
  }
}

async function attemptPrint (job: PrintJobMessage, printer: PrinterConfig, document: Buffer, deps: JobRunnerDeps, log: Logger): Promise<Attempt> {
  const expired = expiry(job, deps.now)
  if (expired !== null) return { outcome: expired }
  let transport: PrinterTransport
  try {
    transport = deps.transports(printer.connection)
    await transport.open()
  } catch (err) {
    return { wait: deps.tracker.observe(printer.id, { state: 'offline', detail: (err as Error).message }) }
  }
  try {
    return await deliver(job, printer, transport, document, deps, log)
  } finally {
    await transport.close().catch((err: unknown) => { log.debug({ err }, 'printer connection close failed') })
  }
}

async function deliver (job: PrintJobMessage, printer: PrinterConfig, transport: PrinterTransport, document: Buffer, deps: JobRunnerDeps, log: Logger): Promise<Attempt> {
  const before = await check(printer, transport, deps)
  if (before.conditions === undefined) return { wait: before }
  if (!canPrint(before.state)) return before.state === 'error' ? { outcome: failure(before) } : { wait: before }
  const expired = expiry(job, deps.now)
  if (expired !== null) return { outcome: expired }
  await deps.journal.markPrinting(job.jobId)
  log.debug({ printerId: printer.id, bytes: document.length, copies: job.copies }, 'job printing')
  try {
    for (let copy = 0; copy < job.copies; copy++) await transport.write(document)
  } catch (err) {
    // Some bytes may have reached the paper: only a person can tell.
    return { outcome: { state: 'unconfirmed', code: RESULT_CODES.UNCONFIRMED, detail: (err as Error).message } }
  }
  // A printer busy cutting may miss one request; it gets the same grace as when idle.
  let after = await check(printer, transport, deps)
  for (let miss = 1; after.conditions === undefined && miss < MISSES_FOR_OFFLINE; miss++) after = await check(printer, transport, deps)
  if (after.conditions === undefined) {
    return { outcome: { state: 'failed', code: RESULT_CODES.PRINTER_OFFLINE, detail: `no status answer after printing: ${after.detail ?? 'offline'}` } }
  }
  if (!canPrint(after.state)) return { outcome: failure(after) }
  return { outcome: { state: 'printed', code: RESULT_CODES.PRINTED } }
}

/** Check the status; the tracker decides what to report. Returns the raw check (conditions set when answered). */
async function check (printer: PrinterConfig, transport: PrinterTransport, deps: JobRunnerDeps): Promise<PrinterStatus> {
  let status: PrinterStatus
  try {
    status = await checkPrinterStatus(transport, deps.statusTimeoutMs)
  } catch (err) {
    status = { state: 'offline', detail: (err as Error).message }
  }
  deps.tracker.observe(printer.id, status)
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
