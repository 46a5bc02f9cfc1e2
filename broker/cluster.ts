/**
 * The shared state of a broker cluster (design §9): Aedes' message fan-out over Redis
 * pub/sub (mqemitter-redis) and its persistence in Redis (aedes-persistence-redis:
 * retained messages, persistent sessions, QoS 1 queues, Wills). Every broker of a
 * cluster gets the same Redis URL and prefix.
 *
 * Namespacing: Redis keys get `{prefix}:` (ioredis `keyPrefix`), and every MQTT topic
 * crossing Redis pub/sub gets `{prefix}/` as a first topic level. Pub/sub channels are
 * global to a Redis server (not per database), so the prefix is what keeps two
 * clusters (or two test runs) on one Redis from seeing each other's messages, Aedes'
 * `$SYS/{broker}/new/clients` session take-over included.
 */
import { Redis } from 'ioredis'
import createMqEmitter from 'mqemitter-redis'
import createPersistence from 'aedes-persistence-redis'
import { CLUSTER_PREFIX_PATTERN } from './cluster-prefix.js'

export { CLUSTER_PREFIX_PATTERN }

/** Aedes heartbeat in a cluster: a broker unheard of for 3 beats is dead and its clients' Wills are published (within 7 beats). */
export const CLUSTER_HEARTBEAT_MS = 5000

/** What Aedes needs to join the cluster. */
export interface ClusterBackends {
  /** mqemitter-compatible fan-out (Aedes option `mq`). */
  readonly mq: unknown
  /** aedes-persistence-compatible store (Aedes option `persistence`). */
  readonly persistence: unknown
  readonly heartbeatIntervalMs: number
  /** Close the persistence's Redis connection, after Aedes closed (it closes `mq` itself). */
  readonly closePersistence: () => Promise<void>
}

/** Options of {@link createClusterBackends}. */
export interface ClusterOptions {
  /** `redis://` or `rediss://` URL. */
  readonly redisUrl: string
  /** Namespace of this cluster's keys and channels. */
  readonly prefix: string
  /** Called for Redis connection errors (the clients reconnect by themselves). */
  readonly onError?: (err: Error) => void
}

type Listener = (message: { topic: string }, done: () => void) => void

interface MqEmitter {
  on (topic: string, listener: Listener, done?: () => void): unknown
  removeListener (topic: string, listener: Listener, done?: () => void): unknown
  emit (message: { topic: string }, done?: (err?: Error) => void): void
  close (done: () => void): void
  readonly state?: { on (event: 'error', listener: (err: Error) => void): void }
}

/**
 * An mqemitter that puts `{prefix}/` in front of every topic on its way to Redis and
 * takes it off on the way back, so Aedes never sees it.
 */
export class PrefixedMqEmitter {
  readonly #inner: MqEmitter
  readonly #prefix: string
  readonly #wrapped = new Map<Listener, Map<string, Listener>>()

  constructor (inner: MqEmitter, prefix: string) {
    this.#inner = inner
    this.#prefix = `${prefix}/`
  }

  on (topic: string, listener: Listener, done?: () => void): this {
    let byTopic = this.#wrapped.get(listener)
    if (byTopic === undefined) { byTopic = new Map(); this.#wrapped.set(listener, byTopic) }
    const prefixLength = this.#prefix.length
    const wrapped: Listener = (message, cb) => { listener({ ...message, topic: message.topic.slice(prefixLength) }, cb) }
    byTopic.set(topic, wrapped)
    this.#inner.on(this.#prefix + topic, wrapped, done)
    return this
  }

  removeListener (topic: string, listener: Listener, done?: () => void): this {
    const byTopic = this.#wrapped.get(listener)
    const wrapped = byTopic?.get(topic)
    if (byTopic === undefined || wrapped === undefined) { if (done !== undefined) setImmediate(done); return this }
    byTopic.delete(topic)
    if (byTopic.size === 0) this.#wrapped.delete(listener)
    this.#inner.removeListener(this.#prefix + topic, wrapped, done)
    return this
  }

  emit (message: { topic: string }, done?: (err?: Error) => void): void {
    this.#inner.emit({ ...message, topic: this.#prefix + message.topic }, done)
  }

  close (done: () => void): void { this.#inner.close(done) }
}

interface SubscriptionStore {
  addSubscriptions: (client: unknown, subs: object, cb?: (err: Error | null, client?: unknown) => void) => Promise<unknown> | undefined
}

/**
 * Aedes 1.2 stores the subscriptions of a persistent client once per topic of a
 * SUBSCRIBE, each time with the packet's whole list, all at once. aedes-persistence's
 * broadcast then waits for its own `$SYS/sub/add` message under one key per client and
 * first topic, so the second wait replaces the first, which never ends: a SUBSCRIBE of
 * two topics (an agent's jobs and config) never got its SUBACK. One store per packet
 * (the same list object) is what is meant anyway.
 */
function storeEachSubscribeOnce<T extends SubscriptionStore> (persistence: T): T {
  const add = persistence.addSubscriptions.bind(persistence)
  const inFlight = new WeakMap<object, Promise<unknown>>()
  persistence.addSubscriptions = (client, subs, cb) => {
    let stored = inFlight.get(subs)
    if (stored === undefined) {
      stored = add(client, subs) as Promise<unknown>
      inFlight.set(subs, stored)
    }
    if (cb === undefined) return stored
    stored.then(() => { cb(null, client) }, (err: Error) => { cb(err) })
    return undefined
  }
  return persistence
}

/** Time the Redis connections have to become ready at start, ms. */
const READY_TIMEOUT_MS = 10_000

/**
 * Redis-backed fan-out and persistence for one broker of the cluster; resolves once
 * every connection is ready (rejects, with the connections closed, when Redis cannot be
 * reached).
 */
export async function createClusterBackends (options: ClusterOptions): Promise<ClusterBackends> {
  if (!CLUSTER_PREFIX_PATTERN.test(options.prefix)) throw new Error(`bad cluster prefix ${JSON.stringify(options.prefix)}`)
  const onError = options.onError ?? (() => {})
  // Own connections, ready before Aedes subscribes anything: with the ones
  // mqemitter-redis makes (auto-pipelining on), a PSUBSCRIBE sent while the subscriber
  // connection was still connecting was seen lost, and a broker that never hears its
  // own `$SYS/sub/add` hangs on every SUBSCRIBE.
  const subConn = new Redis(options.redisUrl)
  const pubConn = new Redis(options.redisUrl, { enableAutoPipelining: true })
  const conn = new Redis(options.redisUrl, { keyPrefix: `${options.prefix}:` })
  const connections = [subConn, pubConn, conn]
  for (const connection of connections) connection.on('error', onError)
  try {
    await Promise.all(connections.map(async (connection) => {
      if (connection.status === 'ready') return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`redis not ready within ${READY_TIMEOUT_MS} ms`)) }, READY_TIMEOUT_MS)
        connection.once('ready', () => { clearTimeout(timer); resolve() })
      })
    }))
  } catch (err) {
    for (const connection of connections) connection.disconnect()
    throw err
  }
  const inner = createMqEmitter({
    subConn: subConn as never,
    pubConn: pubConn as never,
    // [MQTT-4.7.1-3]: `a/#` also matches `a`, as Aedes' default emitter does.
    matchEmptyLevels: true
  }) as unknown as MqEmitter
  inner.state?.on('error', onError)
  return {
    mq: new PrefixedMqEmitter(inner, options.prefix),
    persistence: storeEachSubscribeOnce(createPersistence({ conn }) as SubscriptionStore),
    heartbeatIntervalMs: CLUSTER_HEARTBEAT_MS,
    // Not the persistence's destroy(): it unsubscribes through the emitter, which Aedes
    // has closed by then, and would wait for an answer forever.
    closePersistence: async () => { conn.disconnect() }
  }
}
