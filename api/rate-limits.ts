/**
 * Rate limits on job submission (@fastify/rate-limit): per tenant, per branch and per
 * printer, each a number of jobs per minute (0: no limit). The counters live in memory,
 * or in Redis when one is configured so that every instance counts together. Exceeding
 * one answers 429 with `Retry-After` and `PRINTMQ_API_RATE_LIMITED`. When Redis is
 * unreachable, requests are let through (printing matters more than limiting) and a
 * warning is logged.
 */
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, preHandlerAsyncHookHandler } from 'fastify'
import type { Redis } from 'ioredis'
import { RateLimitedError } from './errors.js'

/** Jobs per minute per scope; 0 turns a scope's limit off. */
export interface JobRateLimits {
  readonly tenantPerMinute: number
  readonly branchPerMinute: number
  readonly printerPerMinute: number
}

/** Defaults: generous for a busy kitchen, low enough to stop a runaway client. */
export const DEFAULT_JOB_RATE_LIMITS: JobRateLimits = Object.freeze({ tenantPerMinute: 6000, branchPerMinute: 600, printerPerMinute: 120 })

/** Scopes a limit applies to. */
export type RateLimitScope = 'tenant' | 'branch' | 'printer'

/** Options of {@link installJobRateLimits}. */
export interface JobRateLimitOptions {
  readonly limits: JobRateLimits
  /** Shared counters; null: this process only. */
  readonly redis: Redis | null
  /** Prefix of the Redis keys. */
  readonly keyPrefix: string
  /** Called for every rejected request (metrics). */
  readonly onRejected: (scope: RateLimitScope) => void
}

/** Routes that create jobs: the limits apply to them. */
export const JOB_CREATING_ROUTES: ReadonlyArray<{ method: string, url: string }> = Object.freeze([
  { method: 'POST', url: '/v1/print-jobs' },
  { method: 'POST', url: '/v1/print-jobs/:id/reprint' },
  { method: 'POST', url: '/v1/printers/:printerId/test-print' },
  { method: 'POST', url: '/v1/branches/:branchId/printers/:printerId/test-print' }
])

const WINDOW_MS = 60_000

/**
 * Register the plugin and add the limits to every job-creating route registered after
 * this call (they run as preHandler hooks: after authentication and body validation).
 */
export async function installJobRateLimits (app: FastifyInstance, options: JobRateLimitOptions): Promise<void> {
  await app.register(fastifyRateLimit, {
    global: false,
    skipOnError: true,
    ...(options.redis !== null ? { redis: options.redis, nameSpace: options.keyPrefix } : {})
  })
  const scopes: Array<[RateLimitScope, number]> = [
    ['tenant', options.limits.tenantPerMinute],
    ['branch', options.limits.branchPerMinute],
    ['printer', options.limits.printerPerMinute]
  ]
  const checks = scopes.filter(([, max]) => max > 0).map(([scope, max]) => ({
    scope,
    check: app.createRateLimit({
      max,
      timeWindow: WINDOW_MS,
      keyGenerator: (request: FastifyRequest) => limitKey(request, scope),
      // Routes that do not name a branch or printer are limited per tenant only.
      allowList: (_request: FastifyRequest, key: string) => key === ''
    })
  }))
  const reject = (request: FastifyRequest, reply: FastifyReply, scope: RateLimitScope, retryAfterSeconds: number): never => {
    options.onRejected(scope)
    request.log.info({ scope }, 'rate limited')
    void reply.header('retry-after', String(Math.max(1, retryAfterSeconds)))
    throw new RateLimitedError(scope, Math.max(1, retryAfterSeconds))
  }
  // Check every scope before counting, so a refused job uses up no allowance of the
  // wider scopes (a busy printer does not eat its branch's budget). Two requests racing
  // between check and count may overshoot a limit by one each; acceptable for a limiter.
  const preHandler: preHandlerAsyncHookHandler = async (request, reply) => {
    for (const { scope, check } of checks) {
      const current = await check(request, { increment: false })
      if (!current.isAllowed && current.remaining === 0) reject(request, reply, scope, current.ttlInSeconds)
    }
    for (const { scope, check } of checks) {
      const counted = await check(request)
      if (!counted.isAllowed && counted.isExceeded) reject(request, reply, scope, counted.ttlInSeconds)
    }
  }
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!JOB_CREATING_ROUTES.some((r) => r.url === route.url && methods.includes(r.method))) return
    route.preHandler = [...toArray(route.preHandler), preHandler]
  })
}

function toArray<T> (value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

/** The counter key of a request in a scope; '' when the request does not name one. */
function limitKey (request: FastifyRequest, scope: RateLimitScope): string {
  const tenant = request.auth.tenant
  const params = (request.params ?? {}) as Record<string, unknown>
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>
  const branch = params.branchId ?? body.branchId
  const printer = params.printerId ?? body.printerId
  if (scope === 'tenant') return `tenant:${tenant}`
  if (typeof branch !== 'string') return ''
  if (scope === 'branch') return `branch:${tenant}/${branch}`
  return typeof printer === 'string' ? `printer:${tenant}/${branch}/${printer}` : ''
}
