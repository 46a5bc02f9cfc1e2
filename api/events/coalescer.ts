/**
 * Coalesces updates per entity: the first update of an entity starts a window of
 * `windowMs`; updates inside it replace the pending value; when it closes, the latest
 * value is flushed once. So a job that goes queued -> dispatched -> accepted within
 * 100 ms yields one event with `accepted`.
 */

/** Per-key coalescing of values. */
export class Coalescer<T> {
  readonly #windowMs: number
  readonly #flush: (key: string, value: T) => void
  readonly #pending = new Map<string, { value: T, timer: NodeJS.Timeout }>()

  constructor (windowMs: number, flush: (key: string, value: T) => void) {
    this.#windowMs = windowMs
    this.#flush = flush
  }

  /** Offer the latest value of `key`. */
  offer (key: string, value: T): void {
    const pending = this.#pending.get(key)
    if (pending !== undefined) {
      pending.value = value
      return
    }
    const timer = setTimeout(() => {
      const entry = this.#pending.get(key)
      this.#pending.delete(key)
      if (entry !== undefined) this.#flush(key, entry.value)
    }, this.#windowMs)
    this.#pending.set(key, { value, timer })
  }

  /** Drop everything pending. */
  clear (): void {
    for (const { timer } of this.#pending.values()) clearTimeout(timer)
    this.#pending.clear()
  }
}
