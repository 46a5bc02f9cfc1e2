/**
 * Group commit per tenant: the first item of a tenant goes at once in its own
 * transaction; items arriving while it runs go together in the next one, so under load
 * one transaction (a handful of round trips) serves many requests instead of one each,
 * and at low load nothing waits (docs/performance.md).
 *
 * An item may also linger: wait up to a given time for company before its transaction
 * starts. An item that does not linger starts the tenant's next transaction at once and
 * takes every lingering item with it (the result batcher lets `accepted` results linger,
 * so that most go in one statement with their job's `printed`).
 *
 * Each caller gets its own outcome after the commit. A batch that fails as a whole is
 * retried one item per transaction, so one bad item never takes others with it; a single
 * item's error goes to its caller.
 */

/** Runs one batch of a tenant in one transaction; returns one outcome per item, in order. */
export type BatchRunner<Item, Outcome> = (tenant: string, items: readonly Item[]) => Promise<Outcome[]>

/** An item's own failure inside a batch that otherwise commits (e.g. "printer not found"). */
export class ItemFailure {
  constructor (readonly error: unknown) {}
}

interface Pending<Item, Outcome> {
  readonly item: Item
  /** When its transaction must start at the latest (ms, Date.now()); 0: at once. */
  readonly deadline: number
  readonly resolve: (outcome: Outcome) => void
  readonly reject: (err: unknown) => void
}

/** Batches items per tenant; see the module comment. */
export class GroupCommit<Item, Outcome> {
  readonly #run: BatchRunner<Item, Outcome | ItemFailure>
  readonly #maxBatch: number
  readonly #waiting = new Map<string, Array<Pending<Item, Outcome>>>()
  readonly #running = new Set<string>()
  readonly #lingerTimers = new Map<string, NodeJS.Timeout>()

  /**
   * `run` may return an {@link ItemFailure} for an item: that caller's promise rejects
   * with its error while the others' outcomes commit.
   */
  constructor (run: BatchRunner<Item, Outcome | ItemFailure>, maxBatch = 200) {
    this.#run = run
    this.#maxBatch = maxBatch
  }

  /**
   * Queue `item` for `tenant`'s next transaction; resolves with its outcome once
   * committed. With `lingerMs`, that transaction starts at the latest `lingerMs` from
   * now, or earlier with an item that does not linger.
   */
  async submit (tenant: string, item: Item, lingerMs = 0): Promise<Outcome> {
    return await new Promise((resolve, reject) => {
      let waiting = this.#waiting.get(tenant)
      if (waiting === undefined) { waiting = []; this.#waiting.set(tenant, waiting) }
      waiting.push({ item, deadline: lingerMs > 0 ? Date.now() + lingerMs : 0, resolve, reject })
      if (!this.#running.has(tenant)) this.#startOrLinger(tenant)
    })
  }

  /** Start `tenant`'s next transaction now, or when its first lingering item's time is up. */
  #startOrLinger (tenant: string): void {
    const waiting = this.#waiting.get(tenant) ?? []
    const timer = this.#lingerTimers.get(tenant)
    if (timer !== undefined) { clearTimeout(timer); this.#lingerTimers.delete(tenant) }
    let deadline = Infinity
    for (const pending of waiting) deadline = Math.min(deadline, pending.deadline)
    const wait = deadline - Date.now()
    if (waiting.length === 0 || wait <= 0) { this.#flush(tenant); return }
    this.#lingerTimers.set(tenant, setTimeout(() => {
      this.#lingerTimers.delete(tenant)
      if (!this.#running.has(tenant)) this.#flush(tenant)
    }, wait))
  }

  #flush (tenant: string): void {
    const waiting = this.#waiting.get(tenant) ?? []
    if (waiting.length === 0) { this.#running.delete(tenant); this.#waiting.delete(tenant); return }
    const batch = waiting.splice(0, this.#maxBatch)
    this.#running.add(tenant)
    const settle = (pending: Pending<Item, Outcome>, outcome: Outcome | ItemFailure | undefined): void => {
      if (outcome instanceof ItemFailure) pending.reject(outcome.error)
      else pending.resolve(outcome as Outcome)
    }
    this.#run(tenant, batch.map((p) => p.item)).then((outcomes) => {
      batch.forEach((pending, i) => { settle(pending, outcomes[i]) })
    }, async (err: unknown) => {
      if (batch.length === 1) { batch[0]?.reject(err); return }
      for (const pending of batch) {
        await this.#run(tenant, [pending.item]).then((outcomes) => { settle(pending, outcomes[0]) }, pending.reject)
      }
    }).finally(() => {
      this.#running.delete(tenant)
      this.#startOrLinger(tenant)
    })
  }
}
