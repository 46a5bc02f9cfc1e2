/**
 * One lane per printer: the job printing on it and the idle status poll never hold a
 * connection to the same printer at once (many printers accept one connection only).
 */

/** Per-printer mutual exclusion. */
export class PrinterLanes {
  readonly #tails = new Map<string, Promise<unknown>>()
  readonly #busy = new Set<string>()

  /** True while something runs on the printer's lane. */
  busy (printerId: string): boolean {
    return this.#busy.has(printerId)
  }

  /** Run `work` once the lane is free. */
  async run<T> (printerId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(printerId) ?? Promise.resolve()
    const result = previous.then(async () => {
      this.#busy.add(printerId)
      try {
        return await work()
      } finally {
        this.#busy.delete(printerId)
      }
    })
    const tail = result.catch(() => {})
    this.#tails.set(printerId, tail)
    void tail.then(() => { if (this.#tails.get(printerId) === tail) this.#tails.delete(printerId) })
    return await result
  }
}
