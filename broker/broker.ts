/**
 * The embedded MQTT broker: Aedes 1.x with printmq's authentication and ACL, listening
 * on TCP. Aedes speaks MQTT 3.1.1 only; correlation and expiry travel in payloads.
 */
import { createServer, type AddressInfo, type Server } from 'node:net'
import type { Duplex } from 'node:stream'
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
import type { AgentPrincipal, Principal } from './principal.js'

/** Options of {@link PrintmqBroker}. */
export interface BrokerOptions {
  readonly host: string
  /** 0 picks a free port. `null` starts no TCP listener (in-process connections only). */
  readonly port: number | null
  readonly logger: Logger
  readonly authenticate: Authenticator
  /** Close sockets that send no CONNECT within this time. */
  readonly connectTimeoutMs?: number
}

interface WillPacket { topic: string, payload: Buffer, retain: boolean, qos: number }

/** Aedes with printmq's identity and topic rules. `start()` / `stop()`. */
export class PrintmqBroker {
  readonly #options: BrokerOptions
  readonly #log: Logger
  #aedes: Aedes | null = null
  #server: Server | null = null
  readonly #principals = new WeakMap<Client, Principal>()
  readonly #assignedIds = new WeakSet<Client>()
  /** Live agent connections by client id. */
  readonly #agents = new Map<string, Client>()
  /** Session id each live agent announced in its latest `online: true` health. */
  readonly #liveSessions = new Map<string, string>()

  constructor (options: BrokerOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'broker' })
  }

  /** Start Aedes and the TCP listener; resolves with the bound port (or null). */
  async start (): Promise<{ port: number | null }> {
    if (this.#aedes !== null) throw new Error('broker already started')
    const aedes = await Aedes.createBroker({
      connectTimeout: this.#options.connectTimeoutMs ?? 10_000,
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
        const request: PublishRequest = { topic: packet.topic, payload: toBuffer(packet.payload), retain: packet.retain, qos: packet.qos }
        const refusal = this.#authorizePublish(client, request)
        if (refusal !== null) {
          this.#log.warn({ clientId: client?.id ?? null, topic: packet.topic, reason: refusal }, 'publish refused')
          done(new Error(refusal))
          return
        }
        done(null)
      }
    })
    aedes.on('clientReady', (client) => {
      const principal = this.#principals.get(client)
      if (principal?.kind === 'agent') {
        this.#agents.set(client.id, client)
        this.#log.info({ clientId: client.id }, 'agent connected')
      }
    })
    aedes.on('clientDisconnect', (client) => {
      if (this.#agents.get(client.id) === client) {
        this.#agents.delete(client.id)
        this.#log.info({ clientId: client.id }, 'agent disconnected')
      }
    })
    aedes.on('clientError', (client, err) => { this.#log.debug({ clientId: client.id, err: err.message }, 'client error') })
    aedes.on('connectionError', (client, err) => { this.#log.debug({ clientId: client.id, err: err.message }, 'connection error') })
    this.#aedes = aedes

    if (this.#options.port === null) return { port: null }
    const server = createServer(aedes.handle)
    this.#server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: this.#options.host, port: this.#options.port, backlog: 4096 }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      await this.stop()
      throw err
    }
    const port = (server.address() as AddressInfo).port
    this.#log.info({ host: this.#options.host, port }, 'mqtt listening')
    return { port }
  }

  /** A stream connected to the broker as if a client had opened a socket. */
  connectInProcess (): Duplex {
    if (this.#aedes === null) throw new Error('broker not started')
    const [clientSide, brokerSide] = createStreamPair()
    this.#aedes.handle(brokerSide)
    return clientSide
  }

  /** Close an agent's live connection (license revoked or rotated). True when one was open. */
  disconnectAgent (ref: AgentRef): boolean {
    const client = this.#agents.get(agentMqttIdentity(ref).clientId)
    if (client === undefined) return false
    client.close()
    return true
  }

  /** Number of connected agents. */
  get connectedAgents (): number { return this.#agents.size }

  /** Stop listening and disconnect every client. Idempotent. */
  async stop (): Promise<void> {
    const server = this.#server
    const aedes = this.#aedes
    this.#server = null
    this.#aedes = null
    if (server !== null) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    if (aedes !== null) await new Promise<void>((resolve) => { aedes.close(() => { resolve() }) })
    this.#agents.clear()
    this.#liveSessions.clear()
  }

  async #authenticate (client: Client, username: string | undefined, password: Buffer | undefined): Promise<(Error & { returnCode: 2 | 3 | 4 | 5 }) | null> {
    const refuse = (returnCode: 2 | 4 | 5, reason: string): Error & { returnCode: 2 | 4 | 5 } => {
      this.#log.warn({ clientId: client.id, username, reason, remoteAddress: remoteAddress(client) }, 'connection refused')
      return Object.assign(new Error(reason), { returnCode })
    }
    const result = await this.#options.authenticate({ username, password })
    if (!result.ok) return refuse(result.returnCode, result.reason)
    const { principal } = result
    const idRefusal = clientIdRefusal(principal, client.id, client.clean, this.#assignedIds.has(client))
    if (idRefusal !== null) return refuse(2, idRefusal)
    const will = (client as unknown as { _will?: WillPacket })._will
    const willDecision = authorizeWill(principal, will === undefined || will === null ? undefined : { ...will, payload: toBuffer(will.payload) })
    if (!willDecision.allow) return refuse(5, `will refused: ${willDecision.reason}`)
    this.#principals.set(client, principal)
    return null
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

function toBuffer (payload: Buffer | string | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0)
  return typeof payload === 'string' ? Buffer.from(payload) : payload
}

function remoteAddress (client: Client): string | undefined {
  return (client.conn as { remoteAddress?: string }).remoteAddress
}
