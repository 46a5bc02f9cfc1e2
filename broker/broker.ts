/**
 * The embedded MQTT broker: Aedes 1.x with printmq's authentication and ACL, listening
 * on TCP, optionally TLS, and (through {@link PrintmqBroker.handleConnection}) WebSocket.
 * Aedes speaks MQTT 3.1.1 only; correlation and expiry travel in payloads.
 */
import type { IncomingMessage } from 'node:http'
import { createServer, type AddressInfo, type Server } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import { Aedes, type Client } from 'aedes'
import type { Logger } from '../shared/logger.js'
import { decodeMessage } from '../shared/messages.js'
import { agentMqttIdentity } from '../shared/license.js'
import type { AgentRef } from '../shared/ids.js'
import { parseTopic } from '../shared/topics.js'
import { authorizePublish, authorizeSubscribe, authorizeWill, type PublishRequest } from './acl.js'
import type { Authenticator } from './authenticator.js'
import { clientIdRefusal } from './client-id.js'
import { createStreamPair } from './in-process-connection.js'
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js'
import { clearSession } from './session-cleanup.js'
import type { ClusterBackends } from './cluster.js'
import { guardPacketSize } from './packet-size-guard.js'
import type { AgentPrincipal, Principal } from './principal.js'

/** Options of {@link PrintmqBroker}. */
export interface BrokerOptions {
  readonly host: string
  /** 0 picks a free port. `null` starts no TCP listener (in-process connections only). */
  readonly port: number | null
  readonly logger: Logger
  readonly authenticate: Authenticator
  /** Close sockets that send no CONNECT within this time (default 10 s). */
  readonly connectTimeoutMs?: number
  /** Largest MQTT packet a client may send, fixed header included (default 1 MiB). */
  readonly maxPacketBytes?: number
  /** Largest keepalive a client may ask for, in seconds; 0 (no keepalive) is refused too (default 600). */
  readonly keepaliveLimitSeconds?: number
  /** Listen backlog of the TCP and TLS listeners (default 4096). */
  readonly listenBacklog?: number
  /** An `mqtts` listener besides the plain one. */
  readonly tls?: { readonly cert: Buffer | string, readonly key: Buffer | string, readonly port: number } | null
  /** Failed-login throttling (default 10 failures per minute per address and per login name). */
  readonly loginThrottle?: LoginThrottleOptions
  /**
   * Join a cluster: fan-out and persistence in Redis (broker/cluster.ts). Null or
   * absent: one broker, in memory.
   */
  readonly cluster?: ClusterBackends | null
  /** An agent's license logged in here (the connection is ready). */
  readonly onAgentLoggedIn?: (ref: AgentRef) => void
  /** That connection ended. */
  readonly onAgentLoggedOut?: (ref: AgentRef) => void
}

/** Default {@link BrokerOptions.maxPacketBytes}: 1 MiB. */
export const DEFAULT_MAX_PACKET_BYTES = 1024 * 1024
/** Default {@link BrokerOptions.keepaliveLimitSeconds}. */
export const DEFAULT_KEEPALIVE_LIMIT_SECONDS = 600
/** Default {@link BrokerOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** Default {@link BrokerOptions.listenBacklog}. */
export const DEFAULT_LISTEN_BACKLOG = 4096
/** Default {@link BrokerOptions.loginThrottle}. */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = Object.freeze({ maxFailures: 10, windowMs: 60_000 })

interface WillPacket { topic: string, payload: Buffer, retain: boolean, qos: number }

/** The part of Aedes' persistence that holds retained messages and Wills. */
interface WillStore {
  createRetainedStream: (pattern: string) => AsyncIterable<{ payload: Buffer }>
  delWill: (client: { id?: string, brokerId?: string }) => Promise<unknown>
}

/** Counters since the broker started, for metrics. */
export interface BrokerStats {
  /** Clients with a completed CONNECT (any identity, including the server's own). */
  readonly connectedClients: number
  /** Connected agents. */
  readonly connectedAgents: number
  /** PUBLISH packets accepted from clients. */
  readonly messagesIn: number
  /** PUBLISH packets forwarded to subscribers. */
  readonly messagesOut: number
  /** CONNECTs refused (bad credentials, client id, Will, throttled). */
  readonly authFailures: number
  /** CONNECTs refused by the failed-login throttle without checking credentials (part of authFailures). */
  readonly throttledLogins: number
  /** Connections cut because a packet announced more than the size limit. */
  readonly oversizedPackets: number
}

/** Aedes with printmq's identity and topic rules. `start()` / `stop()`. */
export class PrintmqBroker {
  readonly #options: BrokerOptions
  readonly #log: Logger
  #aedes: Aedes | null = null
  #server: Server | null = null
  #tlsServer: Server | null = null
  readonly #throttle: LoginThrottle
  readonly #maxPacketBytes: number
  /** Clients the server cut off (license revoked or rotated): nothing is forwarded to them. */
  readonly #cut = new WeakSet<Client>()
  /** Per agent client id, how many times the server cut it off: a login checked before a cut is refused after it. */
  readonly #cuts = new Map<string, number>()
  readonly #principals = new WeakMap<Client, Principal>()
  /** Technicians' sessions end when their JWT expires: one timer per such client. */
  readonly #expiryTimers = new Map<Client, NodeJS.Timeout>()
  readonly #assignedIds = new WeakSet<Client>()
  /** Live agent connections by client id. */
  readonly #agents = new Map<string, Client>()
  /** Session id each live agent announced in its latest `online: true` health. */
  readonly #liveSessions = new Map<string, string>()
  #messagesIn = 0
  #messagesOut = 0
  #authFailures = 0
  #throttledLogins = 0
  #oversizedPackets = 0

  constructor (options: BrokerOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'broker' })
    this.#throttle = new LoginThrottle(options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE)
    this.#maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES
  }

  /** Start Aedes and the TCP (and TLS) listeners; resolves with the bound ports (or null). */
  async start (): Promise<{ port: number | null, tlsPort: number | null }> {
    if (this.#aedes !== null) throw new Error('broker already started')
    const cluster = this.#options.cluster ?? null
    const aedes = await Aedes.createBroker({
      ...(cluster !== null ? { mq: cluster.mq, persistence: cluster.persistence, heartbeatInterval: cluster.heartbeatIntervalMs } : {}),
      connectTimeout: this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Refuses keepalive 0 (a half-open socket would never be noticed) and anything
      // above the limit [MQTT-3.1.2-24: the server closes after 1.5 x keepalive].
      keepaliveLimit: this.#options.keepaliveLimitSeconds ?? DEFAULT_KEEPALIVE_LIMIT_SECONDS,
      preConnect: (client, packet, done) => {
        if (packet.clientId === '') this.#assignedIds.add(client)
        done(null, true)
      },
      authenticate: (client, username, password, done) => {
        this.#authenticate(client, username, password).then(
          (error) => { error === null ? done(null, true) : done(error, false) },
          (err: unknown) => {
            this.#log.error({ err, clientId: client.id }, 'authentication failed with an error')
            done(Object.assign(new Error('Server unavailable'), { returnCode: 3 as const }), false)
          })
      },
      authorizeSubscribe: (client, subscription, done) => {
        const principal = this.#principals.get(client)
        const decision = principal === undefined ? { allow: false as const, reason: 'not authenticated' } : authorizeSubscribe(principal, subscription.topic, subscription.qos)
        if (!decision.allow) {
          this.#log.warn({ clientId: client.id, topic: subscription.topic, reason: decision.reason }, 'subscribe refused')
          done(null, null)
          return
        }
        done(null, subscription)
      },
      authorizePublish: (client, packet, done) => {
        if (cluster !== null && this.#isWillOfAnotherBroker(packet as { brokerId?: unknown })) {
          this.#authorizeWillOfAnotherBroker(client, packet).then((refusal) => {
            if (refusal !== null) this.#log.info({ clientId: client?.id ?? null, topic: packet.topic, reason: refusal }, 'publish refused')
            // Aedes reports the refusal of a Will it publishes as a broker 'error'.
            done(refusal === null ? null : Object.assign(new Error(refusal), { willRefused: true }))
          }, (err: unknown) => { done(err as Error) })
          return
        }
        const request: PublishRequest = { topic: packet.topic, payload: toBuffer(packet.payload), retain: packet.retain, qos: packet.qos }
        const refusal = this.#authorizePublish(client, request)
        if (refusal !== null) {
          this.#log.warn({ clientId: client?.id ?? null, topic: packet.topic, reason: refusal }, 'publish refused')
          done(new Error(refusal))
          return
        }
        done(null)
      },
      authorizeForward: (client, packet) => {
        if (this.#cut.has(client)) return null
        // In a cluster every server's own client sees every message, but a job result
        // is applied by the server whose broker the agent published it to: once, not
        // once per instance.
        if (cluster !== null && packet.brokerId !== aedes.id && this.#principals.get(client)?.kind === 'service' && isResultTopic(packet.topic)) return null
        this.#messagesOut++
        return packet
      }
    })
    aedes.on('publish', (_packet, client) => { if (client !== null) this.#messagesIn++ })
    aedes.on('clientReady', (client) => {
      const principal = this.#principals.get(client)
      if (principal?.kind === 'agent') {
        this.#agents.set(client.id, client)
        this.#log.info({ clientId: client.id }, 'agent connected')
        this.#options.onAgentLoggedIn?.(principal.ref)
      } else if (principal?.kind === 'technician') {
        this.#closeAtExpiry(client, principal.expiresAt, principal.subject)
      }
    })
    aedes.on('clientDisconnect', (client) => {
      const timer = this.#expiryTimers.get(client)
      if (timer !== undefined) { clearTimeout(timer); this.#expiryTimers.delete(client) }
      if (this.#agents.get(client.id) === client) {
        this.#agents.delete(client.id)
        this.#log.info({ clientId: client.id }, 'agent disconnected')
        const principal = this.#principals.get(client)
        if (principal?.kind === 'agent') this.#options.onAgentLoggedOut?.(principal.ref)
      }
    })
    // Errors of the cluster's machinery (a Redis command that failed, a Will that could
    // not be published) must not end the process.
    ;(aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error & { willRefused?: boolean }) => {
      if (err.willRefused === true) return
      this.#log.error({ err }, 'broker error')
    })
    aedes.on('clientError', (client, err) => { this.#log.debug({ clientId: client.id, err: err.message }, 'client error') })
    aedes.on('connectionError', (client, err) => { this.#log.debug({ clientId: client.id, err: err.message }, 'connection error') })
    this.#aedes = aedes

    try {
      let port: number | null = null
      let tlsPort: number | null = null
      if (this.#options.port !== null) {
        this.#server = createServer((socket) => { this.handleConnection(socket) })
        port = await this.#listen(this.#server, this.#options.port)
        this.#log.info({ host: this.#options.host, port, maxPacketBytes: this.#maxPacketBytes }, 'mqtt listening')
      }
      const tls = this.#options.tls
      if (tls !== undefined && tls !== null) {
        this.#tlsServer = createTlsServer({
          cert: tls.cert,
          key: tls.key,
          // A client that never finishes the handshake is closed like one that never sends CONNECT.
          handshakeTimeout: this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
        }, (socket) => { this.handleConnection(socket) })
        tlsPort = await this.#listen(this.#tlsServer, tls.port)
        this.#log.info({ host: this.#options.host, port: tlsPort }, 'mqtts listening')
      }
      return { port, tlsPort }
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async #listen (server: Server, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: this.#options.host, port, backlog: this.#options.listenBacklog ?? DEFAULT_LISTEN_BACKLOG }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return (server.address() as AddressInfo).port
  }

  /**
   * Serve one client connection (a TCP or TLS socket, a WebSocket stream). Each packet's
   * announced size is checked before Aedes reads it.
   */
  handleConnection (stream: Duplex, request?: IncomingMessage): void {
    const aedes = this.#aedes
    if (aedes === null || !this.#accepting) { stream.destroy(); return }
    const remote = (stream as { remoteAddress?: string }).remoteAddress
    const guarded = guardPacketSize(stream, this.#maxPacketBytes, (violation) => {
      this.#oversizedPackets++
      this.#log.warn({ remoteAddress: remote, announcedBytes: violation.announcedBytes, limitBytes: violation.limitBytes }, violation.announcedBytes === null ? 'connection closed: malformed packet length' : 'connection closed: packet larger than the limit')
    })
    aedes.handle(guarded, request)
  }

  /** A stream connected to the broker as if a client had opened a socket. */
  connectInProcess (): Duplex {
    if (this.#aedes === null) throw new Error('broker not started')
    const [clientSide, brokerSide] = createStreamPair()
    this.#aedes.handle(brokerSide)
    return clientSide
  }

  /**
   * License revoked or rotated: close the agent's live connection and delete its
   * persistent session (subscriptions, queued messages, inbound QoS 2 state, Will), so
   * nothing queued for the old license is ever delivered. True when a connection was open.
   */
  async disconnectAgent (ref: AgentRef): Promise<boolean> {
    const aedes = this.#aedes
    if (aedes === null) return false
    const clientId = agentMqttIdentity(ref).clientId
    this.#cuts.set(clientId, (this.#cuts.get(clientId) ?? 0) + 1)
    const client = this.#agents.get(clientId)
    if (client !== undefined) {
      this.#cut.add(client)
      await new Promise<void>((resolve) => { client.close(() => { resolve() }) })
    }
    await clearSession(aedes, clientId, aedes.id)
    this.#liveSessions.delete(clientId)
    this.#log.info({ clientId, wasConnected: client !== undefined }, 'agent session closed and cleared (license revoked or rotated)')
    return client !== undefined
  }

  /** Number of connected agents. */
  get connectedAgents (): number { return this.#agents.size }

  /** True while the agent has a live connection to this broker (not another of the cluster). */
  hasAgent (ref: AgentRef): boolean { return this.#agents.has(agentMqttIdentity(ref).clientId) }

  /**
   * Stop accepting connections (TCP and TLS listeners close); connected clients stay
   * until {@link stop}. For a graceful shutdown. Idempotent.
   */
  stopListening (): void {
    const servers = [this.#server, this.#tlsServer]
    this.#server = null
    this.#tlsServer = null
    this.#accepting = false
    for (const server of servers) {
      // The callback comes once the last connection closed (in stop()).
      if (server !== null) this.#listenersClosed.push(new Promise<void>((resolve) => { server.close(() => { resolve() }) }))
    }
  }

  readonly #listenersClosed: Array<Promise<void>> = []

  #accepting = true

  /**
   * Close every client connection but the server's own (a graceful shutdown: agents
   * reconnect to another instance while this server still receives their last results).
   * Persistent sessions stay in the persistence. Resolves when all are closed.
   */
  async disconnectClients (): Promise<void> {
    const aedes = this.#aedes
    if (aedes === null) return
    const clients = Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)
      .filter((client) => this.#principals.get(client)?.kind !== 'service')
    await Promise.all(clients.map(async (client) => { await new Promise<void>((resolve) => { client.close(() => { resolve() }) }) }))
    if (clients.length > 0) this.#log.info({ clients: clients.length }, 'client connections closed for shutdown')
  }

  /** Connection and message counters since start (zeros before start). */
  stats (): BrokerStats {
    return {
      connectedClients: this.#aedes?.connectedClients ?? 0,
      connectedAgents: this.#agents.size,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      authFailures: this.#authFailures,
      throttledLogins: this.#throttledLogins,
      oversizedPackets: this.#oversizedPackets
    }
  }

  /** Stop listening and disconnect every client. Idempotent. */
  async stop (): Promise<void> {
    const aedes = this.#aedes
    this.#aedes = null
    this.stopListening()
    if (aedes !== null) await new Promise<void>((resolve) => { aedes.close(() => { resolve() }) })
    await Promise.all(this.#listenersClosed.splice(0))
    await this.#options.cluster?.closePersistence()
    this.#agents.clear()
    this.#liveSessions.clear()
  }

  async #authenticate (client: Client, username: string | undefined, password: Buffer | undefined): Promise<(Error & { returnCode: 2 | 3 | 4 | 5 }) | null> {
    const address = remoteAddress(client) ?? 'unknown'
    const name = username ?? ''
    const refuse = (returnCode: 2 | 4 | 5, reason: string): Error & { returnCode: 2 | 4 | 5 } => {
      this.#authFailures++
      for (const crossed of this.#throttle.fail(address, name)) {
        this.#log.warn({ remoteAddress: address, username, throttle: crossed }, crossed === 'address' ? 'login throttle engaged for this address' : 'login throttle engaged for this login name')
      }
      this.#log.warn({ clientId: client.id, username, reason, remoteAddress: address }, 'connection refused')
      return Object.assign(new Error(reason), { returnCode })
    }
    const throttled = this.#throttle.check(address, name)
    if (throttled !== null) {
      this.#authFailures++
      this.#throttledLogins++
      this.#log.info({ clientId: client.id, username, remoteAddress: address, throttle: throttled }, 'connection refused: too many failed logins')
      return Object.assign(new Error('too many failed logins'), { returnCode: 5 as const })
    }
    const cutsBefore = this.#cuts.get(client.id) ?? 0
    const result = await this.#options.authenticate({ username, password })
    if (!result.ok) return refuse(result.returnCode, result.reason)
    const { principal } = result
    // The license was revoked or rotated while its check was in flight.
    if ((this.#cuts.get(client.id) ?? 0) !== cutsBefore) return refuse(5, 'license revoked or rotated during login')
    const idRefusal = clientIdRefusal(principal, client.id, client.clean, this.#assignedIds.has(client))
    if (idRefusal !== null) return refuse(2, idRefusal)
    const will = (client as unknown as { _will?: WillPacket })._will
    const willDecision = authorizeWill(principal, will === undefined || will === null ? undefined : { ...will, payload: toBuffer(will.payload) })
    if (!willDecision.allow) return refuse(5, `will refused: ${willDecision.reason}`)
    this.#throttle.succeed(address, name)
    this.#principals.set(client, principal)
    return null
  }

  /**
   * A technician logged in with a JWT may read only while the token is valid: the
   * connection is closed when it expires (a new login needs a new token).
   */
  #closeAtExpiry (client: Client, expiresAt: number, subject: string): void {
    // setTimeout holds at most 2^31-1 ms (about 24.8 days); longer tokens are re-armed.
    const delay = Math.max(0, Math.min(expiresAt - Date.now(), 2_147_483_647))
    const timer = setTimeout(() => {
      this.#expiryTimers.delete(client)
      if (Date.now() < expiresAt) { this.#closeAtExpiry(client, expiresAt, subject); return }
      this.#log.info({ clientId: client.id, subject }, 'technician token expired: connection closed')
      client.close()
    }, delay)
    timer.unref()
    this.#expiryTimers.set(client, timer)
  }

  /**
   * A Will that Aedes stored for a client of another broker of the cluster and publishes
   * because that broker died (it stopped sending heartbeats). Local Wills carry this
   * broker's id; packets from clients carry none.
   */
  #isWillOfAnotherBroker (packet: { brokerId?: unknown }): boolean {
    return typeof packet.brokerId === 'string' && packet.brokerId !== this.#aedes?.id
  }

  /**
   * Such a Will is published minutes after the fact, usually when the agent already
   * reconnected to another broker. An `online: false` of a session other than the one the
   * retained health (cluster-wide) says is online is stale: it would replace the live
   * agent's retained health with "offline".
   */
  async #authorizeWillOfAnotherBroker (client: Client | null, packet: { topic: string, payload: Buffer | string, clientId?: string, brokerId?: string }): Promise<string | null> {
    const parsed = parseTopic(packet.topic)
    if (parsed?.kind !== 'agent' || parsed.channel !== 'health') return 'will of another broker outside health topics'
    if (client !== null && this.#principals.get(client)?.kind !== 'agent') return 'will of another broker for a non-agent client'
    let will
    try { will = decodeMessage('agent-health', toBuffer(packet.payload)) } catch { return 'invalid will of another broker' }
    if (will.online) return null
    const persistence = (this.#aedes as unknown as { persistence: WillStore } | null)?.persistence
    if (persistence === undefined) return 'broker stopped'
    let stale = false
    for await (const retained of persistence.createRetainedStream(packet.topic)) {
      try {
        const current = decodeMessage('agent-health', toBuffer(retained.payload))
        stale ||= current.online && current.sessionId !== will.sessionId
      } catch {}
    }
    if (!stale) return null
    // Aedes deletes a Will only after publishing it: a refused one would come back at
    // every check. It is not needed any more.
    await persistence.delWill({ id: packet.clientId, brokerId: packet.brokerId })
    return 'stale will of a dead broker (the agent is online in another session)'
  }

  /** `null` when allowed, else the reason. Tracks agents' sessions and printers on the way. */
  #authorizePublish (client: Client | null, request: PublishRequest): string | null {
    if (client === null) {
      // A Will restored from persistence after a broker restart: only health may pass.
      const parsed = parseTopic(request.topic)
      return parsed?.kind === 'agent' && parsed.channel === 'health' ? null : 'orphan will outside health topics'
    }
    const principal = this.#principals.get(client)
    if (principal === undefined) return 'not authenticated'
    const decision = authorizePublish(principal, request)
    if (!decision.allow) return decision.reason
    if (principal.kind === 'service') this.#noteServicePublish(request)
    if (this.#log.isLevelEnabled('debug')) this.#logRouted(client, request)
    if (principal.kind === 'agent') return this.#checkAgentSession(client, principal, request)
    return null
  }

  /** At debug level, one line per job and result passing through, with its correlation id. */
  #logRouted (client: Client, request: PublishRequest): void {
    const parsed = parseTopic(request.topic)
    if (parsed?.kind !== 'agent' || (parsed.channel !== 'jobs' && parsed.channel !== 'results')) return
    try {
      const { jobId, correlationId } = JSON.parse(request.payload.toString('utf8')) as { jobId?: unknown, correlationId?: unknown }
      this.#log.debug({ clientId: client.id, topic: request.topic, jobId, correlationId }, parsed.channel === 'jobs' ? 'job routed' : 'result routed')
    } catch {}
  }

  /** When the server publishes an agent's config, the agent's printer set follows at once. */
  #noteServicePublish (request: PublishRequest): void {
    const parsed = parseTopic(request.topic)
    if (parsed?.kind !== 'agent' || parsed.channel !== 'config') return
    const client = this.#agents.get(agentMqttIdentity(parsed.ref).clientId)
    const principal = client === undefined ? undefined : this.#principals.get(client)
    if (principal?.kind !== 'agent') return
    try {
      const config = decodeMessage('agent-config', request.payload)
      ;(principal as AgentPrincipal).printers = new Set(config.printers.map((p) => p.id))
    } catch (err) {
      this.#log.error({ err, topic: request.topic }, 'service published an invalid agent config')
    }
  }

  /**
   * Health carries a session id per connection. A Will (`online: false`) of a connection
   * that has been replaced must not mark the live agent offline.
   */
  #checkAgentSession (client: Client, principal: AgentPrincipal, request: PublishRequest): string | null {
    const parsed = parseTopic(request.topic)
    if (parsed?.kind !== 'agent' || parsed.channel !== 'health') return null
    const health = decodeMessage('agent-health', request.payload)
    const clientId = agentMqttIdentity(principal.ref).clientId
    if (health.online) {
      this.#liveSessions.set(clientId, health.sessionId)
      return null
    }
    const live = this.#liveSessions.get(clientId)
    const replaced = live !== undefined && live !== health.sessionId && this.#agents.get(clientId) !== client
    return replaced ? 'stale will of a replaced connection' : null
  }
}

function isResultTopic (topic: string): boolean {
  const parsed = parseTopic(topic)
  return parsed?.kind === 'agent' && parsed.channel === 'results'
}

function toBuffer (payload: Buffer | string | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0)
  return typeof payload === 'string' ? Buffer.from(payload) : payload
}

function remoteAddress (client: Client): string | undefined {
  return (client.conn as { remoteAddress?: string }).remoteAddress
}
