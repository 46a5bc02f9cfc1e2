/**
 * What one server instance tells all others (design §9), over Redis pub/sub on the
 * channel `{prefix}:cluster`: an agent's license was revoked or rotated (every instance
 * closes the agent's live connection), a job changed state (every instance's live
 * events and `?wait=` see it). Messages are best effort: an instance that is
 * disconnected from Redis misses them (its job waiters re-read the database anyway).
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { AgentRef } from '../shared/ids.js'
import type { Logger } from '../shared/logger.js'
import type { JobChange } from '../api/jobs/job-changes.js'

/** A message between instances. */
export type ClusterMessage =
  | { readonly kind: 'agent-disconnect', readonly ref: AgentRef }
  | { readonly kind: 'job-change', readonly change: JobChange }

/** Time Redis has to confirm the subscription at start, ms. */
const SUBSCRIBE_TIMEOUT_MS = 10_000

interface Envelope { readonly v: 1, readonly from: string, readonly message: ClusterMessage }

/** Options of {@link ClusterBus}. */
export interface ClusterBusOptions {
  readonly redisUrl: string
  /** Namespace shared by the cluster's instances (PRINTMQ_REDIS_PREFIX). */
  readonly prefix: string
  readonly logger: Logger
}

/** Pub/sub between the instances of a cluster. `start()` / `stop()`. */
export class ClusterBus {
  /** This process's id; its own messages are not handed back to it. */
  readonly nodeId = randomUUID()
  readonly #options: ClusterBusOptions
  readonly #log: Logger
  readonly #channel: string
  readonly #handlers: Array<(message: ClusterMessage) => void> = []
  #pub: Redis | null = null
  #sub: Redis | null = null

  constructor (options: ClusterBusOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'cluster' })
    this.#channel = `${options.prefix}:cluster`
  }

  /** Receive other instances' messages (register before start). */
  onMessage (handler: (message: ClusterMessage) => void): void { this.#handlers.push(handler) }

  /** Connect and subscribe; resolves once subscribed. */
  async start (): Promise<void> {
    const onError = (err: Error): void => { this.#log.warn({ err: err.message }, 'redis error (cluster bus)') }
    const pub = new Redis(this.#options.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5000 })
    const sub = new Redis(this.#options.redisUrl, { connectTimeout: 5000 })
    pub.on('error', onError)
    sub.on('error', onError)
    this.#pub = pub
    this.#sub = sub
    sub.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel) return
      let envelope: Envelope
      try { envelope = JSON.parse(text) as Envelope } catch { return }
      if (envelope.v !== 1 || envelope.from === this.nodeId) return
      for (const handler of this.#handlers) {
        try { handler(envelope.message) } catch (err) { this.#log.error({ err, kind: envelope.message.kind }, 'cluster message failed') }
      }
    })
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        sub.subscribe(this.#channel),
        new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`redis: cluster channel not subscribed within ${SUBSCRIBE_TIMEOUT_MS} ms`)) }, SUBSCRIBE_TIMEOUT_MS) })
      ])
    } finally { clearTimeout(timer) }
    this.#log.info({ channel: this.#channel, nodeId: this.nodeId }, 'cluster bus ready')
  }

  /** Send to every other instance. Never throws: a failure is logged. */
  async publish (message: ClusterMessage): Promise<void> {
    const pub = this.#pub
    if (pub === null) return
    const envelope: Envelope = { v: 1, from: this.nodeId, message }
    await pub.publish(this.#channel, JSON.stringify(envelope)).catch((err: Error) => {
      this.#log.warn({ err: err.message, kind: message.kind }, 'cluster message not sent')
    })
  }

  /** Disconnect. Idempotent. */
  async stop (): Promise<void> {
    const connections = [this.#pub, this.#sub]
    this.#pub = null
    this.#sub = null
    for (const connection of connections) connection?.disconnect()
  }
}
