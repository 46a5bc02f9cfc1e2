/**
 * The printers this agent drives, from the retained `agent-config` message.
 *
 * On a reconnect the broker delivers queued session messages (jobs) right after
 * CONNACK, before the retained config that answers the new SUBSCRIBE, so a job can ask
 * for a printer before any config is known. Such a job waits for the first config, at
 * most `timeoutMs` counted from the moment the agent is connected (a broker that is
 * down is not the job's fault).
 */
import type { PrinterConfig } from '../shared/messages.js'
import { AgentStoppedError } from './errors.js'

interface Waiter {
  readonly resolve: () => void
  readonly reject: (err: Error) => void
  readonly timeoutMs: number
  timer?: NodeJS.Timeout
}

/** Known printers, and jobs waiting for the first config. */
export class PrinterDirectory {
  #printers: ReadonlyMap<string, PrinterConfig> = new Map()
  #configured = false
  #connected = false
  #stopped = false
  readonly #waiters = new Set<Waiter>()

  /** True once a config has arrived. */
  get configured (): boolean { return this.#configured }

  /** Every known printer. */
  list (): PrinterConfig[] {
    return [...this.#printers.values()]
  }

  /** One printer, if the config names it. */
  get (id: string): PrinterConfig | undefined {
    return this.#printers.get(id)
  }

  /** Replace the printers with those of a new config. */
  update (printers: readonly PrinterConfig[]): void {
    this.#printers = new Map(printers.map((p) => [p.id, p]))
    this.#configured = true
    for (const waiter of this.#waiters) this.#settle(waiter)
  }

  /** The agent is connected: waits for the first config start counting now. */
  markConnected (): void {
    this.#connected = true
    for (const waiter of this.#waiters) this.#arm(waiter)
  }

  /**
   * The printer `id` once a config is known; `undefined` if that config does not name
   * it or none came in time. Rejects with {@link AgentStoppedError} on `stop()`.
   */
  async waitFor (id: string, timeoutMs: number): Promise<PrinterConfig | undefined> {
    if (this.#stopped) throw new AgentStoppedError()
    if (!this.#configured) {
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { resolve, reject, timeoutMs }
        this.#waiters.add(waiter)
        if (this.#connected) this.#arm(waiter)
      })
    }
    return this.#printers.get(id)
  }

  /** Release every waiting job with {@link AgentStoppedError}. Idempotent. */
  stop (): void {
    this.#stopped = true
    for (const waiter of this.#waiters) this.#settle(waiter, new AgentStoppedError())
  }

  #arm (waiter: Waiter): void {
    if (waiter.timer !== undefined) return
    waiter.timer = setTimeout(() => { this.#settle(waiter) }, waiter.timeoutMs)
  }

  #settle (waiter: Waiter, err?: Error): void {
    clearTimeout(waiter.timer)
    this.#waiters.delete(waiter)
    if (err !== undefined) waiter.reject(err)
    else waiter.resolve()
  }
}
