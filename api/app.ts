/**
 * Builds the Fastify application: JSON errors with stable codes, correlation ids,
 * JWT auth with a pinned algorithm, CORS, compression, rate limits, OpenAPI at /docs,
 * /metrics, live events and the v1 routes. `server/` runs it.
 */
import fastifyCompress from '@fastify/compress'
import fastifyCors from '@fastify/cors'
import fastifyJwt from '@fastify/jwt'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { isValidCorrelationId, newId } from '../shared/ids.js'
import type { Logger } from '../shared/logger.js'
import { PRINTMQ_VERSION } from '../shared/version.js'
import { jwtPluginOptions, type JwtVerification } from './auth/jwt-options.js'
import type { ApiDeps } from './deps.js'
import { installErrorHandlers } from './error-handler.js'
import { EventHub } from './events/event-hub.js'
import { installIdempotency } from './idempotency/idempotency.js'
import { ApiMetrics, type DatabasePoolStats } from './metrics.js'
import { DEFAULT_JOB_RATE_LIMITS, installJobRateLimits, type JobRateLimits } from './rate-limits.js'
import { agentLicenseRoutes } from './routes/agent-licenses.js'
import { agentRoutes } from './routes/agents.js'
import { branchHealthRoutes } from './routes/branch-health.js'
import { branchRoutes } from './routes/branches.js'
import { discoveryRoutes } from './routes/discovery.js'
import { eventRoutes } from './routes/events.js'
import { healthRoutes } from './routes/health.js'
import { printJobRoutes } from './routes/print-jobs.js'
import { printerRoutes } from './routes/printers.js'
import { testPrintRoutes } from './routes/test-print.js'

/** Header carrying the correlation id in both directions. */
export const CORRELATION_HEADER = 'x-correlation-id'

/** Where the OpenAPI document and its UI are served. */
export const DOCS_PREFIX = '/docs'

/** A registered route (method and URL pattern), for tests and documentation checks. */
export interface RouteSummary {
  readonly method: string
  readonly url: string
  /** Hidden from the OpenAPI document (the docs UI's own files). */
  readonly hidden: boolean
}

const ROUTES = Symbol('printmq.routes')

/** Every route of an app built by {@link buildApp}. */
export function routesOf (app: FastifyInstance): readonly RouteSummary[] {
  return (app as unknown as { [ROUTES]: RouteSummary[] })[ROUTES]
}

/** HTTP concerns of {@link buildApp}; every field has a default. */
export interface HttpOptions {
  /** Exact origins allowed by CORS; empty: no CORS headers. */
  readonly corsOrigins?: readonly string[]
  readonly rateLimits?: JobRateLimits
  /** Redis shared by instances for rate-limit counters. */
  readonly redisUrl?: string | null
  /** Prefix of this app's Redis keys. */
  readonly redisKeyPrefix?: string
  /** Milliseconds between heartbeats on `GET /v1/events`. */
  readonly eventsHeartbeatMs?: number
  /** Connections of the database pool, for /metrics; null when there is no pool. */
  readonly databasePool?: () => DatabasePoolStats | null
}

/** Options of {@link buildApp}. */
export interface AppOptions {
  readonly deps: ApiDeps
  readonly logger: Logger
  readonly jwt: JwtVerification
  /** Largest request body in bytes. */
  readonly bodyLimit?: number
  readonly http?: HttpOptions
}

/** Build (not start) the API. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimit ?? 1024 * 1024
  const http = options.http ?? {}
  const { deps } = options
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit,
    // The correlation id is the request id: taken from the header when valid, else new.
    genReqId: (req) => {
      const header = req.headers[CORRELATION_HEADER]
      return isValidCorrelationId(header) ? header : newId()
    },
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const routes: RouteSummary[] = []
  app.decorate(ROUTES, routes)
  app.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) routes.push({ method, url: route.url, hidden })
  })
  installErrorHandlers(app, bodyLimit)
  // JSON only: without this, Fastify's built-in text parser would accept text/plain.
  app.removeContentTypeParser('text/plain')
  // An empty body labelled application/json (clients that always send the header) is no
  // body: routes that take an optional one (reprint) accept it, the others answer 400
  // through their schema. Anything else goes to Fastify's own parser (prototype poisoning
  // refused).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') { done(null, undefined); return }
    parseJson(request, body as string, done)
  })
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(CORRELATION_HEADER, request.id)
  })

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'printmq API', version: PRINTMQ_VERSION, description: 'Print jobs from web apps to thermal printers. Errors are { statusCode, code, message }.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  const corsOrigins = new Set(http.corsOrigins ?? [])
  if (corsOrigins.size > 0) {
    await app.register(fastifyCors, {
      // Exact match only: no suffix or regex matching (look-alike origins), never `null`.
      origin: (origin, callback) => { callback(null, origin !== undefined && corsOrigins.has(origin)) },
      credentials: true,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id', CORRELATION_HEADER],
      exposedHeaders: [CORRELATION_HEADER, 'location', 'retry-after'],
      maxAge: 600
    })
  }
  // Streams (SSE) are hijacked and never pass through here.
  await app.register(fastifyCompress, { global: true, threshold: 1024 })
  await app.register(fastifyJwt, jwtPluginOptions(options.jwt))

  const metrics = new ApiMetrics({
    db: deps.db,
    changes: deps.changes,
    presence: deps.presence,
    brokerStats: deps.brokerStats,
    databasePool: http.databasePool ?? (() => null)
  })
  metrics.install(app)
  metrics.start()
  app.addHook('onClose', async () => { metrics.stop() })

  const redisUrl = http.redisUrl ?? null
  const redis = redisUrl !== null ? new (await import('ioredis')).Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 }) : null
  if (redis !== null) {
    redis.on('error', (err: Error) => { app.log.warn({ err: err.message }, 'redis error') })
    app.addHook('onClose', async () => { redis.disconnect() })
  }
  await installJobRateLimits(app, {
    limits: http.rateLimits ?? DEFAULT_JOB_RATE_LIMITS,
    redis,
    keyPrefix: http.redisKeyPrefix ?? 'printmq:rl:',
    onRejected: (scope) => { metrics.rateLimited(scope) }
  })

  const hub = new EventHub({ db: deps.db, changes: deps.changes, presence: deps.presence, printerStatus: deps.printerStatus, logger: options.logger })
  hub.start()
  app.addHook('onClose', async () => { hub.stop() })

  installIdempotency(app, { db: options.deps.db, ...(options.deps.idempotencyTtlSeconds !== undefined ? { ttlSeconds: options.deps.idempotencyTtlSeconds } : {}) })
  await app.register(healthRoutes, options.deps)
  await app.register(branchRoutes, options.deps)
  await app.register(branchHealthRoutes, options.deps)
  await app.register(agentRoutes, options.deps)
  await app.register(agentLicenseRoutes, options.deps)
  await app.register(discoveryRoutes, options.deps)
  await app.register(printerRoutes, options.deps)
  await app.register(testPrintRoutes, options.deps)
  await app.register(printJobRoutes, options.deps)
  await app.register(eventRoutes, { hub, heartbeatMs: http.eventsHeartbeatMs ?? 15_000 })
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX })
  return app
}
