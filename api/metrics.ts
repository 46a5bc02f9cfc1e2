/**
 * Prometheus metrics (prom-client), one registry per app so several servers in one
 * process (tests) do not mix. Labels never carry tenant or branch ids: the endpoint is
 * unauthenticated like /healthz and must not leak who uses the server.
 */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { AgentPresence } from './agents/agent-presence.js'
import { isDatabaseUnavailable } from './db/unavailable.js'
import { findJob } from './db/jobs-repository.js'
import type { Database } from './db/schema.js'
import { withTenant } from './db/tenant-scope.js'
import type { BrokerStats } from './deps.js'
import type { JobChanges } from './jobs/job-changes.js'
import type { RateLimitScope } from './rate-limits.js'

/** Connections of the database pool (PostgreSQL). */
export interface DatabasePoolStats { readonly total: number, readonly idle: number, readonly waiting: number }

/** What the metrics read from. */
export interface MetricsSources {
  readonly db: Kysely<Database>
  readonly changes: JobChanges
  readonly presence: AgentPresence
  readonly brokerStats: () => BrokerStats | null
  readonly databasePool: () => DatabasePoolStats | null
}

/** Seconds from submission to `printed`: buckets for kitchen tickets (seconds to minutes). */
const LATENCY_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600]

/** The API's metrics. `start()` / `stop()`. */
export class ApiMetrics {
  readonly registry = new Registry()
  readonly #sources: MetricsSources
  readonly #jobs: Counter<'state'>
  readonly #latency: Histogram
  readonly #failedLogins: Counter
  readonly #rateLimited: Counter<'scope'>
  readonly #databaseErrors: Counter<'kind'>
  #stop: (() => void) | null = null

  constructor (sources: MetricsSources) {
    this.#sources = sources
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'printmq_' })
    this.#jobs = new Counter({ name: 'printmq_jobs_total', help: 'jobs that reached each state, as seen by this instance', labelNames: ['state'], registers })
    this.#latency = new Histogram({ name: 'printmq_job_submit_to_printed_seconds', help: 'time from submission to printed', buckets: LATENCY_BUCKETS, registers })
    this.#failedLogins = new Counter({ name: 'printmq_api_failed_logins_total', help: 'requests refused with 401 (missing, bad or expired token)', registers })
    this.#rateLimited = new Counter({ name: 'printmq_api_rate_limited_total', help: 'job submissions refused with 429, by limit', labelNames: ['scope'], registers })
    this.#databaseErrors = new Counter({ name: 'printmq_db_errors_total', help: 'failed database operations in requests', labelNames: ['kind'], registers })
    const online = sources.presence
    new Gauge({ name: 'printmq_agents_online', help: 'agents whose latest health says online', registers, collect () { this.set(online.onlineCount()) } })
    const broker = sources.brokerStats
    const brokerGauge = (name: string, help: string, read: (s: BrokerStats) => number): void => {
      new Gauge({ name, help, registers, collect () { const s = broker(); if (s !== null) this.set(read(s)) } })
    }
    brokerGauge('printmq_broker_connected_clients', 'MQTT clients connected to the embedded broker', (s) => s.connectedClients)
    brokerGauge('printmq_broker_connected_agents', 'agents connected to the embedded broker', (s) => s.connectedAgents)
    brokerGauge('printmq_broker_messages_in', 'messages the embedded broker received since start (counter)', (s) => s.messagesIn)
    brokerGauge('printmq_broker_messages_out', 'messages the embedded broker delivered since start (counter)', (s) => s.messagesOut)
    brokerGauge('printmq_broker_auth_failures', 'MQTT logins the embedded broker refused since start (counter)', (s) => s.authFailures)
    const pool = sources.databasePool
    new Gauge({
      name: 'printmq_db_pool_connections',
      help: 'database pool connections by state (PostgreSQL)',
      labelNames: ['state'],
      registers,
      collect () {
        const s = pool()
        if (s === null) return
        this.set({ state: 'total' }, s.total)
        this.set({ state: 'idle' }, s.idle)
        this.set({ state: 'waiting' }, s.waiting)
      }
    })
  }

  /** Follow job changes. */
  start (): void {
    this.#stop = this.#sources.changes.onAny((change) => {
      this.#jobs.inc({ state: change.state })
      if (change.state === 'printed') {
        const stored = change.job !== undefined ? Promise.resolve(change.job) : withTenant(this.#sources.db, change.tenant, (trx) => findJob(trx, change.jobId))
        stored.then((job) => {
          if (job !== null) this.#latency.observe((job.updated_at.getTime() - job.created_at.getTime()) / 1000)
        }, () => { this.#databaseErrors.inc({ kind: 'metrics' }) })
      }
    })
  }

  /** Stop following. Idempotent. */
  stop (): void {
    this.#stop?.()
    this.#stop = null
  }

  /** Count a rate-limit rejection. */
  rateLimited (scope: RateLimitScope): void { this.#rateLimited.inc({ scope }) }

  /** Count 401 answers and database errors of `app`'s requests; serve `GET /metrics`. */
  install (app: FastifyInstance): void {
    app.addHook('onResponse', async (_request, reply) => {
      if (reply.statusCode === 401) this.#failedLogins.inc()
    })
    app.addHook('onError', async (_request, _reply, error) => {
      if (isDatabaseUnavailable(error)) this.#databaseErrors.inc({ kind: 'unavailable' })
      else if (isSqlError(error)) this.#databaseErrors.inc({ kind: 'query' })
    })
    app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) => {
      return await reply.type(this.registry.contentType).send(await this.registry.metrics())
    })
  }
}

/** SQLSTATE codes are five characters (pg and PGlite errors carry them in `code`). */
function isSqlError (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && (err as { severity?: unknown }).severity !== undefined
}
