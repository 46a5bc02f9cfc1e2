/**
 * One queue per printer: jobs for one printer print in arrival order, different
 * printers print in parallel (a slow kitchen printer must not hold up the bar).
 */

/** Prints one job; never rejects (failures become job outcomes). */
export type JobRunner = (jobId: string) => Promise<void>

interface Queue {
  readonly pending: string[]
  running: Promise<void> | null
}

/** The print queues of every printer. */
export class PrinterQueues {
  readonly #run: JobRunner
  readonly #queues = new Map<string, Queue>()
  #stopped = false

  constructor (run: JobRunner) {
    this.#run = run
  }

  /** Add a job to its printer's queue. Ignored after `stop()`. */
  enqueue (printerId: string, jobId: string): void {
    if (this.#stopped) return
    let queue = this.#queues.get(printerId)
    if (queue === undefined) {
      queue = { pending: [], running: null }
      this.#queues.set(printerId, queue)
    }
    queue.pending.push(jobId)
    if (queue.running === null) queue.running = this.#drain(queue)
  }

  /** Jobs waiting for one printer behind the one printing. */
  waiting (printerId: string): number {
    return this.#queues.get(printerId)?.pending.length ?? 0
  }

  /** Jobs waiting or printing for one printer. */
  depth (printerId: string): number {
    const queue = this.#queues.get(printerId)
    if (queue === undefined) return 0
    return queue.pending.length + (queue.running !== null ? 1 : 0)
  }

  /**
   * Drop waiting jobs (they stay `accepted` in the journal and print after the next
   * start) and wait for the jobs printing now. Idempotent.
   */
  async stop (): Promise<void> {
    this.#stopped = true
    const running: Array<Promise<void>> = []
    for (const queue of this.#queues.values()) {
      queue.pending.length = 0
      if (queue.running !== null) running.push(queue.running)
    }
    await Promise.all(running)
  }

  async #drain (queue: Queue): Promise<void> {
    for (let jobId = queue.pending.shift(); jobId !== undefined; jobId = queue.pending.shift()) {
      await this.#run(jobId)
    }
    queue.running = null
  }
}
