/**
 * Group commit per tenant: the first item of a tenant goes at once in its own
 * transaction; items arriving while it runs go together in the next one, so under load
 * one transaction (a handful of round trips) serves many requests instead of one each,
 * and at low load nothing waits (docs/performance.md).
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
  readonly resolve: (outcome: Outcome) => void
  readonly reject: (err: unknown) => void
}

/** Batches items per tenant; see the module comment. */
export class GroupCommit<Item, Outcome> {
  readonly #run: BatchRunner<Item, Outcome | ItemFailure>
  readonly #maxBatch: number
  readonly #waiting = new Map<string, Array<Pending<Item, Outcome>>>()
  readonly #running = new Set<string>()

  /**
   * `run` may return an {@link ItemFailure} for an item: that caller's promise rejects
   * with its error while the others' outcomes commit.
   */
  constructor (run: BatchRunner<Item, Outcome | ItemFailure>, maxBatch = 200) {
    this.#run = run
    this.#maxBatch = maxBatch
  }

  /** Queue `item` for `tenant`'s next transaction; resolves with its outcome once committed. */
  async submit (tenant: string, item: Item): Promise<Outcome> {
    return await new Promise((resolve, reject) => {
      let waiting = this.#waiting.get(tenant)
      if (waiting === undefined) { waiting = []; this.#waiting.set(tenant, waiting) }
      waiting.push({ item, resolve, reject })
      if (!this.#running.has(tenant)) this.#flush(tenant)
    })
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
    }).finally(() => { this.#flush(tenant) })
  }
}
