/**
 * `printmq server`: one process with the database, the embedded broker (unless turned
 * off), the server's MQTT client, the dispatcher and the HTTP API. This is the
 * composition root that wires broker/ and api/ together; they never import each other.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { publishAgentConfig } from '../api/agents/agent-config-publisher.js'
import { AgentConfigRefresher } from '../api/agents/agent-config-refresher.js'
import { AgentPresence } from '../api/agents/agent-presence.js'
import { PrinterStatusStore } from '../api/agents/printer-status-store.js'
import { createLicenseVerifier } from '../api/agents/license-verifier.js'
import { buildApp } from '../api/app.js'
import { loadOrCreateSecret } from '../api/auth/tokens.js'
import { openDatabase, runMigrations, type DatabaseLocation, type OpenDatabase } from '../api/db/database.js'
import { Dispatcher } from '../api/jobs/dispatcher.js'
import { JobChanges } from '../api/jobs/job-changes.js'
import { DiscoveryService } from '../api/discovery/discovery-service.js'
import { JobService } from '../api/jobs/job-service.js'
import { createInboundRouter } from '../api/mqtt/inbound-router.js'
import { ServiceClient, type BrokerConnection } from '../api/mqtt/service-client.js'
import { createTechnicianVerifier } from '../api/auth/technician-verifier.js'
import { createAuthenticator, SERVICE_USERNAME } from '../broker/authenticator.js'
import { attachMqttWebSocket } from '../broker/websocket-transport.js'
import { PrintmqBroker } from '../broker/broker.js'
import { SERVICE_CLIENT_ID_PREFIX } from '../broker/client-id.js'
import type { AgentRef } from '../shared/ids.js'
import type { Logger } from '../shared/logger.js'
import { ConfigError, FALLBACK_MQTT_PORT, PortInUseError, type ServerConfig } from './config.js'
import { jwtVerification } from './jwt-verification.js'
import type { ClusterBus } from './cluster-bus.js'

/** Where the server ended up listening. */
export interface ServerAddresses {
  readonly httpPort: number
  readonly mqttPort: number | null
}

/** Overrides for tests and the demo. */
export interface ServerOverrides {
  /** Use this database instead of the one the config names (e.g. in-memory PGlite). */
  readonly database?: DatabaseLocation
  /** Dispatcher sweep interval. */
  readonly sweepIntervalMs?: number
}

/** The whole server. `start()` / `stop()`. */
export class PrintmqServer {
  readonly #config: ServerConfig
  readonly #log: Logger
  readonly #overrides: ServerOverrides
  #database: OpenDatabase | null = null
  #broker: PrintmqBroker | null = null
  #mqtt: ServiceClient | null = null
  #dispatcher: Dispatcher | null = null
  #app: FastifyInstance | null = null
  #jwtSecret: string | null = null
  #bus: ClusterBus | null = null
  #stopping: Promise<void> | null = null

  constructor (config: ServerConfig, logger: Logger, overrides: ServerOverrides = {}) {
    this.#config = config
    this.#log = logger
    this.#overrides = overrides
  }

  /** The HS256 secret in use (after start). */
  get jwtSecret (): string {
    if (this.#jwtSecret === null) throw new Error('server not started')
    return this.#jwtSecret
  }

  /** The HTTP API, after start. */
  get http (): FastifyInstance | null { return this.#app }

  /** The embedded broker, when there is one (after start). */
  get broker (): PrintmqBroker | null { return this.#broker }

  /** Start everything; on failure, stops what was started and rethrows. */
  async start (): Promise<ServerAddresses> {
    try {
      return await this.#start()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async #start (): Promise<ServerAddresses> {
    const config = this.#config
    const log = this.#log
    const location: DatabaseLocation = this.#overrides.database ??
      (config.databaseUrl !== null ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir })
    const database = await openDatabase(location)
    this.#database = database
    if (config.migrateAtStart) await runMigrations(database, config.migrationDatabaseUrl, log.child({ component: 'db' }))
    log.info({ database: database.kind }, 'database ready')

    this.#jwtSecret = config.jwtSecret ?? await loadOrCreateSecret(config.dataDir)

    // With Redis, instances are one cluster: the embedded brokers share state, and
    // revocations and job changes reach every instance over the cluster bus.
    const clustered = config.redisUrl !== null
    // The Redis modules load only then (a single instance starts without them).
    const bus = config.redisUrl === null ? null : new (await import('./cluster-bus.js')).ClusterBus({ redisUrl: config.redisUrl, prefix: config.redisPrefix, logger: log })
    this.#bus = bus
    if (bus !== null) {
      bus.onMessage((message) => {
        if (message.kind === 'agent-disconnect') {
          this.#broker?.disconnectAgent(message.ref).catch((err: unknown) => { log.error({ err }, 'closing a revoked agent failed') })
        }
      })
      await bus.start()
    }

    let connection: BrokerConnection
    let servicePassword: string
    let mqttPort: number | null = null
    if (config.embeddedBroker) {
      servicePassword = randomBytes(32).toString('base64url')
      const authenticate = createAuthenticator({
        servicePassword,
        verifyLicense: createLicenseVerifier(database.db),
        // The same algorithm, key and claim rules as the HTTP API.
        verifyTechnicianToken: createTechnicianVerifier(await jwtVerification(config, this.#jwtSecret))
      })
      const broker = await this.#startBroker(authenticate)
      mqttPort = this.#mqttPort
      connection = { kind: 'in-process', open: () => broker.connectInProcess() }
    } else {
      servicePassword = config.mqttPassword ?? ''
      connection = { kind: 'url', url: config.mqttUrl as string }
    }

    const mqtt = new ServiceClient({
      connection,
      username: config.embeddedBroker ? SERVICE_USERNAME : (config.mqttUsername ?? SERVICE_USERNAME),
      password: servicePassword,
      // In a cluster each process needs its own id: one id on two brokers of the cluster
      // would take the session over back and forth.
      clientId: `${SERVICE_CLIENT_ID_PREFIX}server.${config.instanceId}${clustered && config.embeddedBroker ? `.${bus?.nodeId.slice(0, 8) ?? ''}` : ''}`,
      cleanSession: clustered && config.embeddedBroker,
      logger: log
    })
    this.#mqtt = mqtt
    const configRefresher = new AgentConfigRefresher(async (ref) => { await publishAgentConfig(database.db, mqtt, ref) }, log)
    this.#configRefresher = configRefresher
    const changes = new JobChanges()
    if (bus !== null) this.#shareJobChanges(bus, changes)
    const presence = new AgentPresence()
    const printerStatus = new PrinterStatusStore()
    const dispatcher = new Dispatcher({
      db: database.db,
      mqtt,
      changes,
      logger: log,
      isAgentOnline: (ref) => presence.isOnline(ref),
      publishedExpiryGraceSeconds: config.expiryGraceSeconds,
      ...(this.#overrides.sweepIntervalMs !== undefined ? { sweepIntervalMs: this.#overrides.sweepIntervalMs } : {})
    })
    this.#dispatcher = dispatcher
    const jobs = new JobService({ db: database.db, dispatcher, changes, logger: log })
    const discovery = new DiscoveryService({
      db: database.db,
      isAgentOnline: (ref) => presence.isOnline(ref),
      publish: async (topic, payload) => { await mqtt.publish(topic, payload) },
      logger: log
    })
    mqtt.onMessage(createInboundRouter({
      jobs,
      presence,
      printerStatus,
      discovery,
      logger: log,
      onAgentOnline: async (ref, onlineAt) => {
        // Every instance hears every agent's health; the one the agent is connected to
        // sends its config and pending jobs.
        if (clustered && this.#broker !== null && !this.#broker.hasAgent(ref)) return
        await configRefresher.agentOnline(ref)
        await dispatcher.resendForAgent(ref, onlineAt)
      }
    }))
    mqtt.onConnect(() => { dispatcher.sweep() })
    await mqtt.start()
    dispatcher.start()

    const app = await buildApp({
      logger: log,
      jwt: await jwtVerification(config, this.#jwtSecret),
      http: {
        databasePool: () => database.poolStats(),
        corsOrigins: config.corsOrigins,
        rateLimits: config.rateLimits,
        redisUrl: config.redisUrl,
        redisKeyPrefix: `${config.redisPrefix}:rl:`,
        eventsHeartbeatMs: config.eventsHeartbeatSeconds * 1000
      },
      deps: {
        db: database.db,
        jobs,
        changes,
        presence,
        printerStatus,
        discovery,
        brokerStats: () => this.#broker?.stats() ?? null,
        publicMqttUrl: (requestHost) => this.#publicMqttUrl(requestHost),
        disconnectAgent: async (ref) => await this.#disconnectAgent(ref),
        publishAgentConfig: async (ref, correlationId) => { await publishAgentConfig(database.db, mqtt, ref, correlationId) },
        idempotencyTtlSeconds: config.idempotencyTtlSeconds,
        readiness: async () => ({
          database: await sql`select 1`.execute(database.db).then(() => true, () => false),
          broker: mqtt.connected
        })
      }
    })
    this.#app = app
    const broker = this.#broker
    if (broker !== null) {
      this.#detachWebSocket = attachMqttWebSocket(app.server, { handle: (stream, request) => { broker.handleConnection(stream, request) }, maxPayloadBytes: config.broker.maxPacketBytes, logger: log })
    }
    await app.listen({ host: config.httpHost, port: config.httpPort, listenTextResolver: (address) => `http listening on ${address}` }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' ? new PortInUseError('PRINTMQ_HTTP_PORT (or --http-port)', config.httpHost, config.httpPort, err) : err
    })
    const httpPort = (app.server.address() as AddressInfo).port
    log.info({ httpPort, mqttPort }, 'printmq server ready')
    return { httpPort, mqttPort }
  }

  #mqttPort: number | null = null
  #configRefresher: AgentConfigRefresher | null = null
  #detachWebSocket: (() => Promise<void>) | null = null

  /**
   * Start the embedded broker. On embedded defaults a busy default port (another MQTT
   * broker on 1883 is common on development machines) falls back to
   * {@link FALLBACK_MQTT_PORT}, the same port at every start so that URLs handed to
   * agents and technicians stay valid, and only when that is busy too to a free port,
   * each time with a warning. An explicitly configured port that is busy is an error
   * naming the setting ({@link PortInUseError}).
   */
  async #startBroker (authenticate: ReturnType<typeof createAuthenticator>): Promise<PrintmqBroker> {
    const config = this.#config
    const limits = config.broker
    const readPem = async (variable: string, path: string): Promise<Buffer> => await readFile(path).catch((err: Error) => { throw new ConfigError(variable, `cannot read ${path}: ${err.message}`) })
    const tls = limits.tls === null ? null : { cert: await readPem('PRINTMQ_MQTT_TLS_CERT', limits.tls.certFile), key: await readPem('PRINTMQ_MQTT_TLS_KEY', limits.tls.keyFile), port: limits.tls.port }
    // A broker that failed to start closed its Redis connections: each attempt gets its own.
    const make = async (port: number): Promise<PrintmqBroker> => new PrintmqBroker({
      host: config.mqttHost,
      port,
      logger: this.#log,
      authenticate,
      maxPacketBytes: limits.maxPacketBytes,
      connectTimeoutMs: limits.connectTimeoutMs,
      keepaliveLimitSeconds: limits.keepaliveMaxSeconds,
      listenBacklog: limits.listenBacklog,
      loginThrottle: { maxFailures: limits.loginMaxFailures, windowMs: limits.loginWindowSeconds * 1000 },
      tls,
      cluster: config.redisUrl === null
        ? null
        : await (await import('../broker/cluster.js')).createClusterBackends({ redisUrl: config.redisUrl, prefix: config.redisPrefix, onError: (err) => { this.#log.warn({ err: err.message }, 'redis error (broker)') } }),
      // Set once the server's MQTT client exists; logins before that get their config when they come online.
      onAgentLoggedIn: (ref) => { this.#configRefresher?.agentLoggedIn(ref) },
      onAgentLoggedOut: (ref) => { this.#configRefresher?.agentLoggedOut(ref) }
    })
    const ports = config.mqttPortExplicit ? [config.mqttPort] : [config.mqttPort, config.mqttFallbackPort ?? FALLBACK_MQTT_PORT, 0]
    for (const [attempt, port] of ports.entries()) {
      const broker = await make(port)
      try {
        this.#mqttPort = (await broker.start()).port
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
        const busy = (err as { port?: number }).port ?? port
        if (tls !== null && busy === tls.port) throw new PortInUseError('PRINTMQ_MQTT_TLS_PORT', config.mqttHost, busy, err)
        if (attempt === ports.length - 1) throw new PortInUseError(config.mqttPortExplicit ? 'PRINTMQ_MQTT_PORT (or --mqtt-port)' : 'PRINTMQ_MQTT_PORT', config.mqttHost, port, err)
        continue
      }
      if (attempt > 0) this.#log.warn({ busyPorts: ports.slice(0, attempt), port: this.#mqttPort }, `mqtt port ${config.mqttPort} in use (another broker?): listening on ${this.#mqttPort} instead; agents and MQTT tools connect there; set PRINTMQ_MQTT_PORT to choose`)
      this.#broker = broker
      return broker
    }
    throw new Error('unreachable: every port attempt either returns or throws')
  }

  /** The URL agents should use, as seen by a client that reached the API at `requestHost`. */
  #publicMqttUrl (requestHost: string | undefined): string | null {
    if (this.#config.publicMqttUrl !== null) return this.#config.publicMqttUrl
    if (!this.#config.embeddedBroker) return this.#config.mqttUrl
    if (this.#mqttPort === null) return null
    let hostname = '127.0.0.1'
    try { hostname = new URL(`http://${requestHost ?? '127.0.0.1'}`).hostname } catch {}
    return `mqtt://${hostname}:${this.#mqttPort}`
  }

  /**
   * License revoked or rotated: close the agent's connection here and tell the other
   * instances to do the same with theirs.
   */
  async #disconnectAgent (ref: AgentRef): Promise<boolean> {
    const [local] = await Promise.all([
      this.#broker?.disconnectAgent(ref) ?? Promise.resolve(false),
      this.#bus?.publish({ kind: 'agent-disconnect', ref })
    ])
    return local
  }

  /** Job changes made here go to the other instances; theirs are announced here. */
  #shareJobChanges (bus: ClusterBus, changes: JobChanges): void {
    let remote = false
    changes.onAny((change) => {
      // Without the stored job: other instances read it themselves (dates do not survive JSON).
      if (!remote) void bus.publish({ kind: 'job-change', change: { tenant: change.tenant, jobId: change.jobId, state: change.state } })
    })
    bus.onMessage((message) => {
      if (message.kind !== 'job-change') return
      remote = true
      try { changes.emit(message.change) } finally { remote = false }
    })
  }

  /**
   * Drain and stop, in this order (a graceful shutdown, SIGTERM): stop accepting MQTT
   * and HTTP connections; let in-flight HTTP requests finish (live event streams are
   * ended; long polls are cut after half the grace period); let the dispatcher finish its
   * current batch; close the broker's client connections, so agents reconnect to another
   * instance; close the server's MQTT client, the broker, the cluster bus and the
   * database. Idempotent; the caller bounds the time (PRINTMQ_SHUTDOWN_GRACE_SECONDS).
   */
  async stop (): Promise<void> {
    this.#stopping ??= this.#stop()
    await this.#stopping
    this.#stopping = null
  }

  /**
   * Stop accepting HTTP connections and let requests finish; after half the shutdown
   * grace period the ones still open (long polls, `?wait=`) are cut, so the process ends
   * in time; a client retries them at another instance.
   */
  async #closeHttp (app: FastifyInstance): Promise<void> {
    const closed = app.close()
    // A keep-alive connection whose request finished during the drain would otherwise
    // stay open (and the drain with it) until the client closes it.
    const idle = setInterval(() => { app.server.closeIdleConnections() }, 100)
    void closed.finally(() => { clearInterval(idle) })
    let timer: NodeJS.Timeout | undefined
    const late = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(true) }, this.#config.shutdownGraceSeconds * 500) })
    ])
    clearTimeout(timer)
    if (late) {
      this.#log.warn('requests still open after half the shutdown grace period: closing their connections')
      app.server.closeAllConnections()
      await closed
    }
  }

  async #stop (): Promise<void> {
    const app = this.#app; this.#app = null
    const detachWebSocket = this.#detachWebSocket; this.#detachWebSocket = null
    const dispatcher = this.#dispatcher; this.#dispatcher = null
    const mqtt = this.#mqtt; this.#mqtt = null
    const broker = this.#broker
    const bus = this.#bus; this.#bus = null
    const database = this.#database; this.#database = null
    const log = this.#log
    if (app !== null || broker !== null) log.info('draining: no new connections')
    broker?.stopListening()
    await detachWebSocket?.()
    if (app !== null) await this.#closeHttp(app)
    await dispatcher?.stop()
    // Agents first, so they reconnect elsewhere while our client still takes the results
    // they publish until they are gone.
    await broker?.disconnectClients()
    await mqtt?.stop()
    this.#broker = null
    await broker?.stop()
    await bus?.stop()
    await database?.close()
  }
}
