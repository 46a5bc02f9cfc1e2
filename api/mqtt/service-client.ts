/**
 * printmq's own MQTT connection (the internal service identity): publishes jobs and
 * agent config, receives results, health and printer status. Speaks to the embedded
 * broker over an in-process stream, or to an external broker (Mosquitto, EMQX) by URL.
 */
import type { Duplex } from 'node:stream'
import mqtt, { MqttClient, type IClientOptions } from 'mqtt'
import type { Logger } from '../../shared/logger.js'
import { SERVER_SUBSCRIPTIONS } from '../../shared/topics.js'
import { BrokerUnavailableError } from '../errors.js'

/** How to reach the broker. */
export type BrokerConnection =
  | { readonly kind: 'in-process', readonly open: () => Duplex }
  | { readonly kind: 'url', readonly url: string }

/** Options of {@link ServiceClient}. */
export interface ServiceClientOptions {
  readonly connection: BrokerConnection
  readonly username: string
  readonly password: string
  readonly clientId: string
  readonly logger: Logger
  /**
   * Clean session (default false: a persistent session keeps results queued at an
   * external broker while the server restarts). A cluster's instances use clean
   * sessions: another instance takes the messages while one is away, and a
   * persistent session of an instance that never returns would queue forever.
   */
  readonly cleanSession?: boolean
}

/** Called for every message on the server's subscriptions. */
export type InboundHandler = (topic: string, payload: Buffer, retained: boolean) => void

/** The server's MQTT client. `start()` resolves once subscribed. */
export class ServiceClient {
  readonly #options: ServiceClientOptions
  readonly #log: Logger
  #client: MqttClient | null = null
  readonly #inbound: InboundHandler[] = []
  readonly #connectListeners: Array<() => void> = []

  constructor (options: ServiceClientOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.mqtt' })
  }

  /** Register a handler for inbound messages (before start). */
  onMessage (handler: InboundHandler): void { this.#inbound.push(handler) }

  /** Register a listener for every (re)connection, after subscriptions are in place. */
  onConnect (listener: () => void): void { this.#connectListeners.push(listener) }

  /** True while connected to the broker. */
  get connected (): boolean { return this.#client?.connected === true }

  /** Connect and subscribe; resolves after the first successful connection. */
  async start (): Promise<void> {
    const options: IClientOptions = {
      username: this.#options.username,
      password: this.#options.password,
      clientId: this.#options.clientId,
      protocolVersion: 4,
      // A persistent session keeps results queued at an external broker while we restart.
      clean: this.#options.cleanSession ?? false,
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      // Jobs are published only while connected; the dispatcher retries from the
      // database, so nothing waits in an unbounded in-memory queue.
      queueQoSZero: false,
      resubscribe: true,
      // mqtt.js calls its `debug` logger with several arguments for every packet; even
      // when off, each call allocates (about 1% of the server's garbage per job). Kept
      // when DEBUG is set, so DEBUG=mqttjs* still traces the server's client.
      ...(process.env.DEBUG === undefined ? { log: () => {} } : {})
    }
    const { connection } = this.#options
    const client = connection.kind === 'in-process'
      ? new MqttClient(() => connection.open() as never, options)
      : mqtt.connect(connection.url, options)
    this.#client = client
    client.on('message', (topic, payload, packet) => {
      for (const handler of this.#inbound) handler(topic, payload, packet.retain)
    })
    client.on('error', (err) => { this.#log.warn({ err: err.message }, 'mqtt client error') })
    client.on('offline', () => { this.#log.warn('broker connection lost') })
    let first = true
    await new Promise<void>((resolve, reject) => {
      const onFirstError = (err: Error): void => { if (first) reject(err) }
      client.once('error', onFirstError)
      client.on('connect', (connack) => {
        const subscriptions = Object.fromEntries(SERVER_SUBSCRIPTIONS.map((filter) => [filter, { qos: 1 as const }]))
        const needSubscribe = !connack.sessionPresent || first
        const done = (): void => {
          this.#log.info({ sessionPresent: connack.sessionPresent }, 'connected to broker')
          if (first) {
            first = false
            client.off('error', onFirstError)
            resolve()
          }
          for (const listener of this.#connectListeners) listener()
        }
        if (!needSubscribe) { done(); return }
        client.subscribe(subscriptions, (err, granted) => {
          const refused = granted?.filter((g) => g.qos === 128) ?? []
          if (err !== null && err !== undefined) this.#log.error({ err }, 'subscribe failed')
          else if (refused.length > 0) this.#log.error({ refused: refused.map((g) => g.topic) }, 'broker refused server subscriptions')
          done()
        })
      })
    })
  }

  /** Publish at QoS 1; resolves when the broker acknowledged (PUBACK). */
  async publish (topic: string, payload: Buffer, options: { retain?: boolean } = {}): Promise<void> {
    const client = this.#client
    if (client === null || !client.connected) throw new BrokerUnavailableError()
    await new Promise<void>((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain: options.retain ?? false }, (err) => {
        if (err !== undefined && err !== null) reject(new BrokerUnavailableError())
        else resolve()
      })
    })
  }

  /** Disconnect. Idempotent. */
  async stop (): Promise<void> {
    const client = this.#client
    this.#client = null
    if (client !== null) await client.endAsync(true)
  }
}
