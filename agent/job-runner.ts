/**
 * Prints one journaled job, from "accepted" to an outcome:
 *
 *   wait for the printer's config -> check expiry -> render -> [connect -> status check
 *   -> check expiry again -> journal `printing` -> write each copy -> status check]
 *   -> journal the outcome -> publish the result
 *
 * When the job printed, the connection stays open for the printer's next job, for up to
 * a second (printer-connections.ts): that job skips the connect. When the next job is
 * already queued, it also skips its check before printing (the check after this ticket
 * stands for it), and this job's outcome goes to the journal with that job's `printing`
 * record, in the same synced write (Journal.settleWithNextWrite), published once that
 * write is done.
 *
 * A `job-cancel` from the server (handlers/job-cancel.ts) settles the job in the journal
 * as `canceled`; the runner looks before each step up to journaling `printing` (that
 * check and write are one journal step) and stops without printing. Once `printing`
 * is journaled, a cancel is too late and the real outcome is reported.
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
import { lazyChild, type LazyLogger, type Logger } from '../shared/logger.js'
import type { PrintJobMessage, PrinterConfig } from '../shared/messages.js'
import { backoffDelay, type BackoffOptions } from './backoff.js'
import type { CancelSignals } from './cancel-signals.js'
import { AgentStoppedError } from './errors.js'
import type { Journal } from './journal.js'
import type { Outcome } from './journal-records.js'
import type { PrinterDirectory } from './printer-directory.js'
import { FRESH_STATUS_MS, type OpenPrinterConnection, type PrinterConnections, type StatusReading } from './printer-connections.js'
import type { PrinterLanes } from './printer-lanes.js'
import { canPrint, checkPrinterStatus, failureCodeFor, type PrinterStatus } from './printers/status-check.js'
import type { PrinterTransport } from './printers/transport.js'
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
  /** Opens printer connections, or hands over the one held open after the previous job. */
  readonly connections: PrinterConnections
  /** Jobs queued for the printer behind the one printing; when there are, the outcome rides with the next job's `printing` write. */
  readonly jobsWaiting: (printerId: string) => number
  readonly results: ResultPublisher
  readonly tracker: StatusTracker
  readonly lanes: PrinterLanes
  readonly logger: Logger
  readonly configWaitMs: number
  readonly statusTimeoutMs: number
  readonly retry: BackoffOptions
  /** Wakes a job waiting for its printer when it is canceled. */
  readonly cancels: CancelSignals
  /** Waits `ms`, less when `wake` fires; rejects with {@link AgentStoppedError} when the agent stops. */
  readonly sleep: (ms: number, wake?: AbortSignal) => Promise<void>
  readonly now: () => number
}

/** Print a journaled job and settle it. Never rejects. */
export async function runJob (jobId: string, deps: JobRunnerDeps): Promise<void> {
  const entry = deps.journal.get(jobId)
  const job = entry?.job
  if (entry === undefined || job === undefined || entry.phase !== 'accepted') return
  const log = lazyChild(deps.logger, { jobId, correlationId: job.correlationId })
  const wake = deps.cancels.signal(jobId)
  try {
    const outcome = await printJob(job, deps, log, wake)
    if (outcome === null) {
      log.info('job canceled, not printed')
      return
    }
    const report = (): void => {
      log.info({ state: outcome.state, code: outcome.code, detail: outcome.detail }, outcome.state === 'printed' ? 'job printed' : 'job not printed')
      deps.results.publishOutcome(jobId)
    }
    // Past `printing` and another job waits for the printer: its `printing` write carries
    // this outcome, and the queue moves on to it now.
    if (deps.journal.get(jobId)?.phase === 'printing' && deps.jobsWaiting(job.printerId) > 0) {
      deps.journal.settleWithNextWrite(jobId, outcome)
        .then((settled) => { if (settled) report() })
        .catch((err: unknown) => { log.error({ err }, 'job outcome not recorded') })
      return
    }
    // Canceled before it printed: the cancel settled and reported it.
    if (!await deps.journal.settle(jobId, outcome)) {
      log.info('job canceled, not printed')
      return
    }
    report()
  } catch (err) {
    // Stopping mid-wait leaves the job `accepted` (or `printing`), settled after the next start.
    if (err instanceof AgentStoppedError) return
    log.error({ err }, 'job processing failed')
  } finally {
    deps.cancels.release(jobId)
  }
}

/**
 * One attempt's result: an outcome, a printer status to wait out, or `canceled` (the
 * journal no longer has the job waiting to print: the server canceled it).
 */
type Attempt = { readonly outcome: Outcome } | { readonly wait: PrinterStatus } | { readonly canceled: true }

/** True while the journal still has the job waiting to print (not canceled). */
function stillWaiting (job: PrintJobMessage, deps: JobRunnerDeps): boolean {
  return deps.journal.get(job.jobId)?.phase === 'accepted'
}

// The renderer (node-thermal-printer, iconv-lite, pngjs) is loaded by the first job, not
// at start: an idle agent does without it (docs/agent.md, "Footprint"). The promise is
// kept: under a TypeScript loader each `import()` of a loaded module still costs a round
// trip to the loader's thread (about 9% of the agents' CPU in the end-to-end bench).
let renderer: Promise<typeof import('./printers/render.js')> | null = null
async function loadRenderer (): Promise<typeof import('./printers/render.js')> {
  renderer ??= import('./printers/render.js')
  return await renderer
}

/** The job's outcome, or null when it was canceled before it printed. */
async function printJob (job: PrintJobMessage, deps: JobRunnerDeps, log: LazyLogger, wake: AbortSignal): Promise<Outcome | null> {
  const printer = await deps.directory.waitFor(job.printerId, deps.configWaitMs)
  if (!stillWaiting(job, deps)) return null
  if (printer === undefined) {
    return { state: 'failed', code: RESULT_CODES.UNKNOWN_PRINTER, detail: `printer ${job.printerId} is not configured for this agent` }
  }
  const expired = expiry(job, deps.now)
  if (expired !== null) return expired
  const { renderDocument } = await loadRenderer()
  let document: Buffer
  try {
    document = await renderDocument(job.content, printer)
  } catch (err) {
    return { state: 'failed', code: RESULT_CODES.BAD_CONTENT, detail: (err as Error).message }
  }
  let waitedFor: PrinterStatus | undefined
  for (let attempt = 0; ; attempt++) {
    const result = await deps.lanes.run(printer.id, async () => await attemptPrint(job, printer, document, deps, log))
    if ('canceled' in result) return null
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
    await deps.sleep(delay, wake)
    if (!stillWaiting(job, deps)) return null
  }
}

async function attemptPrint (job: PrintJobMessage, printer: PrinterConfig, document: Buffer, deps: JobRunnerDeps, log: LazyLogger): Promise<Attempt> {
  if (!stillWaiting(job, deps)) return { canceled: true }
  const expired = expiry(job, deps.now)
  if (expired !== null) return { outcome: expired }
  let connection: OpenPrinterConnection | null = null
  let keep: StatusReading | undefined
  try {
    connection = await deps.connections.open(printer)
    let attempt = await deliver(job, printer, connection, document, deps, log)
    if (connection.lastCheck !== undefined && 'wait' in attempt && attempt.wait.conditions === undefined) {
      // A held connection that no longer answers (the printer dropped it without a
      // word): once more on a new connection before waiting.
      const stale = connection
      connection = null
      await deps.connections.release(printer, stale)
      connection = await deps.connections.open(printer)
      attempt = await deliver(job, printer, connection, document, deps, log)
    }
    // Printed with a clean check after it: held for the printer's next job (closed when
    // none comes within the hold time).
    if ('after' in attempt) keep = { status: attempt.after, at: deps.now(), nextJobWaiting: deps.jobsWaiting(printer.id) > 0 }
    return attempt
  } catch (err) {
    if (connection !== null) throw err
    return { wait: deps.tracker.observe(printer.id, { state: 'offline', detail: (err as Error).message }) }
  } finally {
    if (connection !== null) await deps.connections.release(printer, connection, keep)
  }
}

/** A printed job's attempt also carries the clean status read after it. */
type Delivered = Attempt | { readonly outcome: Outcome, readonly after: PrinterStatus }

async function deliver (job: PrintJobMessage, printer: PrinterConfig, connection: OpenPrinterConnection, document: Buffer, deps: JobRunnerDeps, log: LazyLogger): Promise<Delivered> {
  const { transport, lastCheck } = connection
  // A clean status read on this same connection right after the previous ticket, while
  // this job was already waiting for it.
  const fresh = lastCheck !== undefined && lastCheck.nextJobWaiting && deps.now() - lastCheck.at <= FRESH_STATUS_MS
  const before = fresh ? lastCheck.status : await check(printer, transport, deps)
  if (before.conditions === undefined) return { wait: before }
  if (!canPrint(before.state)) return before.state === 'error' ? { outcome: failure(before) } : { wait: before }
  const expired = expiry(job, deps.now)
  if (expired !== null) return { outcome: expired }
  // The last moment a cancel can stop it: from here on, bytes may reach the paper.
  if (!await deps.journal.markPrinting(job.jobId)) return { canceled: true }
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
  return { outcome: { state: 'printed', code: RESULT_CODES.PRINTED }, after }
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
