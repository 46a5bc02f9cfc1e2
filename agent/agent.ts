/**
 * The branch agent: one MQTT connection, a durable journal, one print queue per
 * printer. The license key names the agent; the printers come from the retained
 * config. See job-runner.ts for the life of a job and journal.ts for why no job id is
 * ever printed twice.
 */
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AgentRef } from '../shared/ids.js'
import { agentMqttIdentity, parseLicenseKey } from '../shared/license.js'
import type { Logger } from '../shared/logger.js'
import { RESULT_CODES } from '../shared/job-states.js'
import { agentTopic, printerStatusTopic } from '../shared/topics.js'
import { CancelSignals } from './cancel-signals.js'
import { AgentBadLicenseError, AgentStoppedError } from './errors.js'
import { PrinterDiscovery, type PrinterDiscoveryOptions } from './discovery/printer-discovery.js'
import { createAgentConfigHandler } from './handlers/agent-config.js'
import { createDiscoveryRequestHandler } from './handlers/discovery-request.js'
import { createJobsChannelHandler } from './handlers/jobs-channel.js'
import { DEFAULT_HEALTH_INTERVAL_MS, HealthReporter, offlineHealth } from './health-reporter.js'
import { createInboundRouter } from './inbound.js'
import { DEFAULT_CONFIG_WAIT_MS, DEFAULT_RETRY, runJob } from './job-runner.js'
import { Journal } from './journal.js'
import { MqttConnection } from './mqtt-connection.js'
import type { BackoffOptions } from './backoff.js'
import { PrinterDirectory } from './printer-directory.js'
import { PrinterConnections } from './printer-connections.js'
import { PrinterLanes } from './printer-lanes.js'
import { PrinterQueues } from './printer-queues.js'
import { DEFAULT_STATUS_TIMEOUT_MS } from './printers/status-check.js'
import { createTransportFactory, type TransportFactory } from './printers/transport.js'
import { ResultPublisher } from './result-publisher.js'
import { DEFAULT_STATUS_INTERVAL_MS, StatusPoller } from './status-poller.js'
import { StatusReporter } from './status-reporter.js'
import { StatusTracker } from './status-tracker.js'

/** Time `stop()` waits for the offline health message to be acknowledged, in ms. */
const GOODBYE_TIMEOUT_MS = 1000

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`). */
  readonly url: string
  /** Several broker URLs (a cluster's instances); replaces `url` (see MqttConnectionOptions). */
  readonly urls?: readonly string[]
  /** License key: names the agent and is its MQTT password. */
  readonly licenseKey: string
  /** Directory of the journal. */
  readonly stateDir: string
  readonly logger: Logger
  /** Interval of health messages, ms; default 15000. */
  readonly healthIntervalMs?: number
  /** Time to wait for a CONNACK, ms; default 10000. */
  readonly connectTimeoutMs?: number
  /** Time a job waits for the first config once connected, ms; default 15000. */
  readonly configWaitMs?: number
  /** Time a printer has to answer each status request, ms; default 2000. */
  readonly statusTimeoutMs?: number
  /** Reconnect backoff bounds; default 1 s to 60 s. */
  readonly backoff?: BackoffOptions
  /** Retry delays while a printer cannot print (paper out, offline); default 1 s to 30 s. */
  readonly retry?: BackoffOptions
  /** Interval of idle status checks, ms; default 5000, 0 turns them off. */
  readonly statusIntervalMs?: number
  /** Printer transports; TCP with default timeouts unless replaced. */
  readonly transports?: TransportFactory
  /** How long a printer's connection stays open for its next job after a ticket, ms; default 1000 (printer-connections.ts). */
  readonly printerHoldMs?: number
  /** Clock, ms since the epoch. */
  readonly now?: () => number
  /** Printer discovery: how serial ports are listed, how TCP probes connect (tests replace them). */
  readonly discovery?: Pick<PrinterDiscoveryOptions, 'serial' | 'connect' | 'concurrency'>
}

interface AgentEvents {
  /** Connected, subscribed, health published. */
  online: [{ sessionId: string }]
  /** The connection dropped. */
  offline: []
}

/** The branch agent. */
export class Agent extends EventEmitter<AgentEvents> {
  /** The agent the license key names. */
  readonly ref: AgentRef
  readonly #log: Logger
  readonly #journal: Journal
  readonly #directory = new PrinterDirectory()
  readonly #queues: PrinterQueues
  readonly #connections: PrinterConnections
  readonly #connection: MqttConnection
  readonly #results: ResultPublisher
  readonly #statuses: StatusReporter
  readonly #poller: StatusPoller
  readonly #stopping = new AbortController()
  readonly #health: HealthReporter
  readonly #discovery: PrinterDiscovery
  readonly #onJob: (payload: Buffer) => Promise<void>
  #online = false
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'

  constructor (options: AgentOptions) {
    super()
    const ref = parseLicenseKey(options.licenseKey)
    if (ref === null) throw new AgentBadLicenseError('licenseKey', 'not a printmq license key')
    this.ref = ref
    this.#log = options.logger.child({ component: 'agent', tenant: ref.tenant, branch: ref.branch, agent: ref.agent })
    const now = options.now ?? Date.now
    this.#journal = new Journal({ dir: options.stateDir, logger: this.#log, now })
    this.#discovery = new PrinterDiscovery({
      ...options.discovery,
      publish: async (payload) => { await this.#connection.publish(agentTopic(ref, 'discovered'), payload) },
      logger: this.#log,
      now
    })
    this.#connection = new MqttConnection({
      url: options.url,
      ...(options.urls !== undefined ? { urls: options.urls } : {}),
      identity: agentMqttIdentity(ref),
      password: options.licenseKey,
      logger: this.#log,
      will: (sessionId) => ({ topic: agentTopic(ref, 'health'), payload: offlineHealth(sessionId) }),
      onMessage: createInboundRouter(ref, {
        jobs: async (payload) => { await this.#onJob(payload) },
        config: createAgentConfigHandler({ directory: this.#directory, logger: this.#log }),
        discovery: createDiscoveryRequestHandler({ discovery: this.#discovery, logger: this.#log })
      }, this.#log),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.backoff !== undefined ? { backoff: options.backoff } : {})
    })
    const publish = async (topic: string, payload: Buffer): Promise<void> => { await this.#connection.publish(topic, payload) }
    const publishRetained = async (topic: string, payload: Buffer): Promise<void> => { await this.#connection.publish(topic, payload, true) }
    this.#results = new ResultPublisher({ topic: agentTopic(ref, 'results'), journal: this.#journal, publish, logger: this.#log })
    this.#statuses = new StatusReporter({
      topicFor: (printer) => printerStatusTopic({ tenant: ref.tenant, branch: ref.branch, printer }),
      publishRetained,
      sessionId: () => this.#connection.sessionId,
      logger: this.#log
    })
    const tracker = new StatusTracker(this.#statuses)
    const lanes = new PrinterLanes()
    const transports = options.transports ?? createTransportFactory()
    const connections = new PrinterConnections(transports, {
      ...(options.printerHoldMs !== undefined ? { holdIdleMs: options.printerHoldMs } : {}),
      onCloseError: (err, printerId) => { this.#log.debug({ err, printerId }, 'printer connection close failed') }
    })
    this.#connections = connections
    const statusTimeoutMs = options.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS
    const signal = this.#stopping.signal
    const cancels = new CancelSignals()
    const deps = {
      journal: this.#journal,
      directory: this.#directory,
      connections,
      jobsWaiting: (printerId: string) => this.#queues.waiting(printerId),
      results: this.#results,
      tracker,
      lanes,
      logger: this.#log,
      configWaitMs: options.configWaitMs ?? DEFAULT_CONFIG_WAIT_MS,
      statusTimeoutMs,
      retry: options.retry ?? DEFAULT_RETRY,
      cancels,
      // A canceled job's wait ends early (`wake`); stopping the agent ends it with an error.
      sleep: async (ms: number, wake?: AbortSignal): Promise<void> => {
        try {
          await sleep(ms, undefined, { signal: wake !== undefined ? AbortSignal.any([signal, wake]) : signal })
        } catch {
          if (signal.aborted) throw new AgentStoppedError()
        }
      },
      now
    }
    this.#poller = new StatusPoller({
      printers: () => this.#directory.list(),
      lanes,
      connections,
      tracker,
      statusTimeoutMs,
      intervalMs: options.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS,
      logger: this.#log
    })
    this.#queues = new PrinterQueues(async (jobId) => { await runJob(jobId, deps) })
    this.#onJob = createJobsChannelHandler({ journal: this.#journal, results: this.#results, queues: this.#queues, cancels, logger: this.#log, now })
    this.#health = new HealthReporter({
      publishRetained: async (payload) => { await publishRetained(agentTopic(ref, 'health'), payload) },
      sessionId: () => this.#connection.sessionId,
      reconnects: () => this.#connection.reconnects,
      rttMs: () => this.#connection.rttMs,
      lastError: () => this.#connection.lastError,
      printers: () => this.#directory.list().map((p) => ({ id: p.id, queueDepth: this.#queues.depth(p.id) })),
      intervalMs: options.healthIntervalMs ?? DEFAULT_HEALTH_INTERVAL_MS,
      logger: this.#log
    })
    this.#connection.on('connect', ({ sessionId }) => { void this.#onConnect(sessionId) })
    this.#connection.on('offline', () => {
      this.#online = false
      this.#health.stop()
      this.emit('offline')
    })
  }

  /** True while connected and subscribed. */
  get online (): boolean { return this.#online }

  /** Load the journal, recover what a crash left, start connecting. */
  async start (): Promise<void> {
    if (this.#state !== 'new') return
    this.#state = 'starting'
    try {
      await this.#journal.start()
      await this.#recover()
      this.#connection.start()
      this.#poller.start()
      this.#state = 'running'
      this.#log.info('agent started')
    } catch (err) {
      this.#state = 'stopped'
      await this.#journal.stop()
      throw err
    }
  }

  /**
   * Stop taking jobs, let the printing ones finish, say goodbye (retained
   * `online: false`), disconnect, close the journal. Idempotent.
   */
  async stop (): Promise<void> {
    if (this.#state === 'new' || this.#state === 'stopped' || this.#state === 'stopping') return
    this.#state = 'stopping'
    this.#health.stop()
    this.#directory.stop()
    this.#stopping.abort()
    await this.#poller.stop()
    await this.#discovery.stop()
    await this.#queues.stop()
    await this.#connections.stop()
    if (this.#connection.connected) await this.#sayGoodbye()
    await this.#connection.stop()
    await this.#journal.stop()
    this.#state = 'stopped'
    this.#log.info('agent stopped')
  }

  /** Resolves when the agent is online (connected and subscribed). */
  async waitUntilOnline (timeoutMs = 10_000): Promise<void> {
    if (this.#online) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('online', onOnline)
        reject(new Error(`agent not online after ${timeoutMs} ms`))
      }, timeoutMs)
      const onOnline = (): void => {
        clearTimeout(timer)
        resolve()
      }
      this.once('online', onOnline)
    })
  }

  /** After a crash: settle jobs cut off mid-print, queue jobs never started. */
  async #recover (): Promise<void> {
    for (const entry of this.#journal.entries()) {
      const log = this.#log.child({ jobId: entry.jobId, correlationId: entry.correlationId })
      if (entry.phase === 'printing') {
        // Bytes may have reached the paper; printing again could double a kitchen order.
        await this.#journal.settle(entry.jobId, {
          state: 'unconfirmed',
          code: RESULT_CODES.UNCONFIRMED,
          detail: 'agent stopped while the job was printing'
        })
        log.warn('job unconfirmed')
      } else if (entry.phase === 'accepted' && entry.job !== undefined) {
        this.#queues.enqueue(entry.printerId, entry.jobId)
        log.info('job resumed')
      }
    }
  }

  async #onConnect (sessionId: string): Promise<void> {
    try {
      const refused = await this.#connection.subscribe([agentTopic(this.ref, 'jobs'), agentTopic(this.ref, 'config'), agentTopic(this.ref, 'discovery')])
      if (refused.length > 0) this.#log.error({ topics: refused }, 'subscription refused')
      this.#directory.markConnected()
      this.#health.start()
      this.#statuses.republishAll()
      this.#results.republishUnreported()
      this.#online = true
      this.emit('online', { sessionId })
    } catch (err) {
      this.#log.warn({ err }, 'subscribe failed')
    }
  }

  async #sayGoodbye (): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, GOODBYE_TIMEOUT_MS) })
    const goodbye = this.#connection.publish(agentTopic(this.ref, 'health'), offlineHealth(this.#connection.sessionId), true)
      .catch((err: unknown) => { this.#log.debug({ err }, 'offline health not published') })
    await Promise.race([goodbye, timeout])
    clearTimeout(timer)
  }
}
