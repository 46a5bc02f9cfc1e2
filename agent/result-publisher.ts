/**
 * Publishes job results on the agent's `results` topic (QoS 1) and records in the
 * journal when the broker acknowledged an outcome. Publishing never blocks the caller:
 * a result waits in mqtt.js's store while the agent is offline, and an outcome whose
 * PUBACK never came (the agent stopped or crashed) is published again after the next
 * connect, from the journal. The server ignores results it already has (design §5).
 */
import { lazyChild, type Logger } from '../shared/logger.js'
import { encodeMessage, type MessageBody } from '../shared/messages.js'
import { RESULT_CODES } from '../shared/job-states.js'
import type { ResultState } from '../shared/job-states.js'
import type { Journal } from './journal.js'
import type { JournalEntry } from './journal-records.js'

/** What a result says about a job. */
interface ResultSummary {
  readonly state: ResultState
  readonly code: number
  readonly detail?: string
}

/** Publishes at QoS 1, resolving on PUBACK. */
export type Publish = (topic: string, payload: Buffer) => Promise<void>

/** Options of {@link ResultPublisher}. */
export interface ResultPublisherOptions {
  readonly topic: string
  readonly journal: Journal
  readonly publish: Publish
  readonly logger: Logger
}

/** Sends `job-result` messages. */
export class ResultPublisher {
  readonly #options: ResultPublisherOptions
  readonly #log: Logger
  /** Outcomes published and not yet acknowledged, so a reconnect does not send them twice. */
  readonly #inFlight = new Set<string>()

  constructor (options: ResultPublisherOptions) {
    this.#options = options
    this.#log = options.logger
  }

  /** Tell the server the job is journaled (202). */
  publishAccepted (entry: JournalEntry, replay = false): void {
    this.#send(entry, { state: 'accepted', code: RESULT_CODES.ACCEPTED }, replay)
      .catch((err: unknown) => { this.#log.warn({ err, jobId: entry.jobId, correlationId: entry.correlationId }, 'result not published') })
  }

  /** Publish the recorded outcome of a job; journal `reported` once acknowledged. */
  publishOutcome (jobId: string, replay = false): void {
    const entry = this.#options.journal.get(jobId)
    const outcome = entry?.outcome
    if (entry === undefined || outcome === undefined) return
    const log = lazyChild(this.#log, { jobId, correlationId: entry.correlationId })
    const first = !this.#inFlight.has(jobId)
    this.#inFlight.add(jobId)
    this.#send(entry, outcome, replay)
      .then(() => {
        if (!entry.reported && first) this.#options.journal.markReported(jobId)
        log.debug({ state: outcome.state }, 'result acknowledged')
      })
      .catch((err: unknown) => { log.warn({ err }, 'result not published') })
      .finally(() => { if (first) this.#inFlight.delete(jobId) })
  }

  /** Re-publish every outcome the broker has not acknowledged (after a (re)connect). */
  republishUnreported (): void {
    for (const entry of this.#options.journal.entries()) {
      if (entry.outcome !== undefined && !entry.reported && !this.#inFlight.has(entry.jobId)) {
        this.publishOutcome(entry.jobId, true)
      }
    }
  }

  async #send (entry: JournalEntry, result: ResultSummary, replay: boolean): Promise<void> {
    const body: MessageBody<'job-result'> = {
      jobId: entry.jobId,
      printerId: entry.printerId,
      state: result.state,
      code: result.code,
      ...(result.detail !== undefined ? { detail: result.detail.slice(0, 1024) } : {}),
      ...(replay ? { replay: true } : {})
    }
    const payload = encodeMessage('job-result', entry.correlationId, body)
    await this.#options.publish(this.#options.topic, payload)
  }
}
