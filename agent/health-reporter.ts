/**
 * The agent's retained `agent-health`: `online: true` with process figures on connect
 * and every interval; `online: false` as the Last Will and on a clean stop. Every
 * message carries the connection's session id (design §4).
 */
import { loadavg } from 'node:os'
import { PRINTMQ_VERSION } from '../shared/version.js'
import type { Logger } from '../shared/logger.js'
import { encodeMessage } from '../shared/messages.js'

/** Default interval between health messages, in ms. */
export const DEFAULT_HEALTH_INTERVAL_MS = 15_000

/** Options of {@link HealthReporter}. */
export interface HealthReporterOptions {
  readonly publishRetained: (payload: Buffer) => Promise<void>
  readonly sessionId: () => string
  readonly reconnects: () => number
  /** Smoothed broker round-trip time, ms. */
  readonly rttMs: () => number | undefined
  /** The last error worth telling an operator about. */
  readonly lastError: () => string | undefined
  /** Known printers with their queue depths. */
  readonly printers: () => Array<{ id: string, queueDepth: number }>
  readonly intervalMs: number
  readonly logger: Logger
}

/** The retained health message of one connection that is going away. */
export function offlineHealth (sessionId: string): Buffer {
  return encodeMessage('agent-health', sessionId, { sessionId, online: false })
}

/** Publishes health while the agent is connected. */
export class HealthReporter {
  readonly #options: HealthReporterOptions
  readonly #startedAt = process.hrtime.bigint()
  #timer: NodeJS.Timeout | null = null

  constructor (options: HealthReporterOptions) {
    this.#options = options
  }

  /** Publish now and then every interval. */
  start (): void {
    this.stop()
    this.publishNow()
    this.#timer = setInterval(() => { this.publishNow() }, this.#options.intervalMs)
    this.#timer.unref()
  }

  /** Stop the interval. Idempotent. */
  stop (): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** Publish one `online: true` message. */
  publishNow (): void {
    this.#options.publishRetained(this.#onlineHealth())
      .catch((err: unknown) => { this.#options.logger.warn({ err }, 'health not published') })
  }

  #onlineHealth (): Buffer {
    const sessionId = this.#options.sessionId()
    const rttMs = this.#options.rttMs()
    const lastError = this.#options.lastError()
    return encodeMessage('agent-health', sessionId, {
      sessionId,
      online: true,
      version: PRINTMQ_VERSION,
      uptimeSeconds: Number(process.hrtime.bigint() - this.#startedAt) / 1e9,
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes: process.memoryUsage().heapUsed,
      loadAverage: loadavg()[0] ?? 0,
      reconnects: this.#options.reconnects(),
      ...(rttMs !== undefined ? { rttMs: Math.round(rttMs * 10) / 10 } : {}),
      ...(lastError !== undefined ? { lastError: lastError.slice(0, 1024) } : {}),
      printers: this.#options.printers().slice(0, 64)
    })
  }
}
