/**
 * Wakes a job that is waiting for its printer (paper out, offline) when the server
 * cancels it, so its printer's queue moves on at once instead of after the backoff.
 * Whether a job may still print is decided by the journal, not here.
 */

/** One abort signal per job that is running. */
export class CancelSignals {
  readonly #controllers = new Map<string, AbortController>()

  /** The signal that fires when `jobId` is canceled; {@link release} it when the job ends. */
  signal (jobId: string): AbortSignal {
    let controller = this.#controllers.get(jobId)
    if (controller === undefined) {
      controller = new AbortController()
      this.#controllers.set(jobId, controller)
    }
    return controller.signal
  }

  /** Wake the job if it is running. */
  cancel (jobId: string): void {
    this.#controllers.get(jobId)?.abort()
    this.#controllers.delete(jobId)
  }

  /** The job ended: forget its signal. */
  release (jobId: string): void {
    this.#controllers.delete(jobId)
  }
}
