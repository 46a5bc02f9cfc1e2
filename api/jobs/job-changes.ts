/**
 * In-process notifications of job state changes, so `GET /v1/print-jobs/{id}?wait=`
 * answers as soon as a result is stored. Other instances' changes are caught by the
 * waiter's periodic re-read.
 */
import { EventEmitter } from 'node:events'
import type { JobState } from '../../shared/job-states.js'
import type { JobSnapshot } from '../db/jobs-repository.js'

/** A job changed state. */
export interface JobChange {
  readonly tenant: string
  readonly jobId: string
  readonly state: JobState
  /**
   * The job as stored by this change, when the emitter has it: listeners (live events,
   * metrics) then need no database read per change. Absent for changes of other
   * instances (cluster bus), which listeners read from the database.
   */
  readonly job?: JobSnapshot
}

/** Publish/subscribe of job changes within this process. */
export class JobChanges {
  readonly #emitter = new EventEmitter()

  constructor () { this.#emitter.setMaxListeners(0) }

  /** Announce a change. */
  emit (change: JobChange): void {
    this.#emitter.emit(key(change.tenant, change.jobId), change)
    this.#emitter.emit('*', change)
  }

  /** Listen to one job; returns the function that stops listening. */
  onJob (tenant: string, jobId: string, listener: (change: JobChange) => void): () => void {
    const k = key(tenant, jobId)
    this.#emitter.on(k, listener)
    return () => { this.#emitter.off(k, listener) }
  }

  /** Listen to every job; returns the function that stops listening. */
  onAny (listener: (change: JobChange) => void): () => void {
    this.#emitter.on('*', listener)
    return () => { this.#emitter.off('*', listener) }
  }
}

function key (tenant: string, jobId: string): string { return `${tenant}\u0000${jobId}` }
