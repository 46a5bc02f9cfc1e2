/**
 * The agent's one MQTT connection (mqtt.js v5, MQTT 3.1.1 because Aedes speaks only
 * that). A persistent session (`clean: false`) makes the broker queue jobs while the
 * agent is away. Incoming messages go through `handleMessage`, whose callback mqtt.js
 * waits for before it sends the PUBACK: the handler journals the job first, so a job
 * is acknowledged only once it is on disk.
 *
 * Reconnects are scheduled here, not by mqtt.js (its `reconnectPeriod` is a fixed
 * interval): jittered exponential backoff, and each connection gets a fresh session id
 * that its Last Will carries, so a Will fired late for an old connection can be told
 * apart from the live one. The same message stores are kept across reconnects, so
 * QoS 1 publishes in flight are re-sent.
 */
import { EventEmitter } from 'node:events'
import { connect, type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from '../shared/logger.js'
import type { MqttIdentity } from '../shared/license.js'
import { newId } from '../shared/ids.js'
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js'

/**
 * MQTT keepalive, seconds. mqtt.js declares the link dead 1.5 x keepalive after the last
 * packet and checks every keepalive / 2, so a dead link is noticed within 40 s (the
 * issue asks for 45); the broker drops a silent agent after 1.5 x 20 = 30 s
 * [MQTT-3.1.2-24], which fires its Last Will.
 */
export const KEEPALIVE_SECONDS = 20
/** Weight of the newest sample in the smoothed round-trip time. */
const RTT_WEIGHT = 0.25
/** Time to wait for a CONNACK, in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** Time `stop()` gives a clean DISCONNECT before it drops the socket, in ms. */
const END_TIMEOUT_MS = 2000

/** Handles one incoming publish; the PUBACK goes out once it resolves. */
export type MessageHandler = (packet: IPublishPacket) => Promise<void>

/** Options of {@link MqttConnection}. */
export interface MqttConnectionOptions {
  readonly url: string
  /**
   * Several brokers (instances of a cluster; `url` is then ignored): the first is tried
   * first, and each reconnect goes to the next, so an agent whose broker went away lands
   * on another. WebSocket URLs share the path of the first.
   */
  readonly urls?: readonly string[]
  readonly identity: MqttIdentity
  /** The license key; never logged. */
  readonly password: string
  /** Logger of the owner (the agent's, `component: 'agent'`). */
  readonly logger: Logger
  /** Topic and payload of the Last Will for a connection with this session id. */
  readonly will: (sessionId: string) => { topic: string, payload: Buffer }
  readonly onMessage: MessageHandler
  readonly connectTimeoutMs?: number
  readonly backoff?: BackoffOptions
}

interface ConnectionEvents {
  /** CONNACK received; `sessionPresent` tells whether queued messages follow. */
  connect: [{ sessionId: string, sessionPresent: boolean }]
  /** The connection dropped (a reconnect is scheduled unless stopping). */
  offline: []
}

/** One MQTT connection that keeps itself up. */
export class MqttConnection extends EventEmitter<ConnectionEvents> {
  readonly #options: MqttConnectionOptions
  readonly #log: Logger
  #client: MqttClient | null = null
  #sessionId = newId()
  #attempt = 0
  #reconnects = 0
  #everConnected = false
  #timer: NodeJS.Timeout | null = null
  #stopping = false
  #rttMs: number | undefined
  #lastError: string | undefined

  constructor (options: MqttConnectionOptions) {
    super()
    this.#options = options
    this.#log = options.logger
  }

  /** Session id of the current (or next) connection. */
  get sessionId (): string { return this.#sessionId }
  /** Successful connections after the first. */
  get reconnects (): number { return this.#reconnects }
  /** True while connected. */
  get connected (): boolean { return this.#client?.connected ?? false }
  /**
   * Smoothed round-trip time to the broker, ms: the time from sending a QoS 1 publish
   * to its PUBACK (health, status and results are all QoS 1, so it is measured all the
   * time without extra traffic). Undefined until the first PUBACK.
   */
  get rttMs (): number | undefined { return this.#rttMs }
  /** The last connection error, for health reports. */
  get lastError (): string | undefined { return this.#lastError }

  /** Begin connecting; returns at once (the `connect` event says when it worked). */
  start (): void {
    if (this.#client !== null) return
    this.#stopping = false
    const { identity, password } = this.#options
    const urls = this.#options.urls !== undefined && this.#options.urls.length > 0 ? this.#options.urls : [this.#options.url]
    const url = urls[0] as string
    const client = connect(url, {
      // mqtt.js takes host, port and protocol of the next server on every (re)connect.
      ...(urls.length > 1 ? { servers: urls.map(serverOf) } : {}),
      clientId: identity.clientId,
      username: identity.username,
      password,
      clean: false,
      protocolVersion: 4,
      keepalive: KEEPALIVE_SECONDS,
      connectTimeout: this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnectPeriod: 0,
      // mqtt-packet otherwise pre-builds a 2-byte Buffer for each of the 65,536 packet
      // ids on the first write: about 6 MB of heap on a device that sends a few a minute.
      writeCache: false,
      resubscribe: false,
      will: this.#willFor(this.#sessionId)
    })
    client.handleMessage = (packet, callback) => {
      this.#options.onMessage(packet).then(() => { callback() }, (err: Error) => {
        // No PUBACK: the broker delivers the message again on the next connection.
        this.#log.error({ err, topic: packet.topic }, 'message not handled')
        callback(err)
      })
    }
    client.on('connect', (connack) => {
      if (this.#everConnected) this.#reconnects++
      this.#everConnected = true
      this.#attempt = 0
      this.#log.info({ url: urls.length > 1 ? currentUrl(client) : redactUrl(url), sessionPresent: connack.sessionPresent, reconnects: this.#reconnects }, 'mqtt connected')
      this.emit('connect', { sessionId: this.#sessionId, sessionPresent: connack.sessionPresent })
    })
    client.on('error', (err) => {
      this.#lastError = err.message
      this.#log.warn({ err }, 'mqtt error')
    })
    client.on('close', () => { this.#onClose() })
    this.#client = client
  }

  /** Publish at QoS 1; resolves on PUBACK. */
  async publish (topic: string, payload: Buffer, retain = false): Promise<void> {
    const client = this.#client
    if (client === null) throw new Error('mqtt connection not started')
    const sentAt = performance.now()
    const connectedAtSend = client.connected
    await client.publishAsync(topic, payload, { qos: 1, retain })
    // A publish queued while offline measures the outage, not the link.
    if (connectedAtSend) this.#sample(performance.now() - sentAt)
  }

  /** Subscribe at QoS 1; returns the filters the broker refused. */
  async subscribe (filters: readonly string[]): Promise<string[]> {
    const client = this.#client
    if (client === null) throw new Error('mqtt connection not started')
    const granted = await client.subscribeAsync([...filters], { qos: 1 })
    // [MQTT-3.9.3] a SUBACK return code of 0x80 is a refusal.
    return granted.filter((g) => g.qos === 128).map((g) => g.topic)
  }

  /** Disconnect cleanly (no Will is published) and stop reconnecting. Idempotent. */
  async stop (): Promise<void> {
    const client = this.#client
    if (client === null) return
    this.#stopping = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#client = null
    if (!client.connected) {
      // Nothing to say goodbye on. Not awaited: mqtt.js waits for a 'close' event of a
      // socket that may already be closed.
      client.end(true)
      return
    }
    // end() waits for unacknowledged publishes; a broker that stopped answering must
    // not hold up shutdown, so the socket is dropped after a grace period.
    let timer: NodeJS.Timeout | undefined
    const gaveUp = new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(true) }, END_TIMEOUT_MS) })
    const ended = client.endAsync().then(() => false, () => false)
    if (await Promise.race([ended, gaveUp])) client.stream.destroy()
    clearTimeout(timer)
  }

  #sample (ms: number): void {
    this.#rttMs = this.#rttMs === undefined ? ms : this.#rttMs + RTT_WEIGHT * (ms - this.#rttMs)
  }

  #onClose (): void {
    this.emit('offline')
    if (this.#stopping || this.#timer !== null) return
    const delay = backoffDelay(this.#attempt++, this.#options.backoff ?? DEFAULT_BACKOFF)
    this.#log.info({ delayMs: delay, attempt: this.#attempt }, 'mqtt reconnect scheduled')
    this.#timer = setTimeout(() => {
      this.#timer = null
      const client = this.#client
      if (client === null || this.#stopping) return
      this.#sessionId = newId()
      client.options.will = this.#willFor(this.#sessionId)
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore })
    }, delay)
  }

  #willFor (sessionId: string): NonNullable<MqttClient['options']['will']> {
    const { topic, payload } = this.#options.will(sessionId)
    return { topic, payload, qos: 1, retain: true }
  }
}

/** One entry of mqtt.js' `servers` option. */
function serverOf (url: string): { host: string, port: number, protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss' } {
  const parsed = new URL(url)
  const protocol = parsed.protocol.slice(0, -1) as 'mqtt' | 'mqtts' | 'ws' | 'wss'
  const defaultPort = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 }[protocol]
  return { host: parsed.hostname, port: parsed.port === '' ? defaultPort : Number(parsed.port), protocol }
}

/** The broker a client with several servers is connected to, for logs. */
function currentUrl (client: MqttClient): string {
  const { protocol, hostname, port } = client.options
  return `${protocol ?? 'mqtt'}://${hostname ?? ''}:${port ?? ''}`
}

/** The URL without credentials or query, for logs. */
function redactUrl (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`
  } catch {
    return '[unparseable url]'
  }
}
