/**
 * The HTTP API's part of the server configuration: token verification keys, CORS,
 * rate limits, Redis, live events. Pure like loadServerConfig (reads no files: the
 * public key file is read at start).
 */
import { resolve } from 'node:path'
import { DEFAULT_JOB_RATE_LIMITS, type JobRateLimits } from '../api/rate-limits.js'
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../api/auth/jwt-options.js'
import { ConfigError } from './config.js'

/** Validated HTTP configuration. */
export interface HttpConfig {
  /** Algorithm every token must be signed with. */
  readonly jwtAlgorithm: JwtAlgorithm
  /** PEM public key file for RS256 / ES256; null with HS256. */
  readonly jwtPublicKeyFile: string | null
  /** Exact browser origins allowed to call the API; empty: no CORS headers at all. */
  readonly corsOrigins: readonly string[]
  /** Redis for rate-limit counters shared by instances; null: in memory. */
  readonly redisUrl: string | null
  readonly rateLimits: JobRateLimits
  /** Seconds between heartbeats on `GET /v1/events`. */
  readonly eventsHeartbeatSeconds: number
}

function count (env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const value = env[name]
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > max) throw new ConfigError(name, `must be an integer 0-${max}, got ${JSON.stringify(value)}`)
  return n
}

/** An origin as browsers send it: scheme, host, optional port; no path, no `null`. */
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/

/** Read and validate the HTTP configuration. */
export function loadHttpConfig (env: NodeJS.ProcessEnv): HttpConfig {
  const algorithm = env.PRINTMQ_JWT_ALGORITHM ?? 'HS256'
  if (!(JWT_ALGORITHMS as readonly string[]).includes(algorithm)) throw new ConfigError('PRINTMQ_JWT_ALGORITHM', `must be one of ${JWT_ALGORITHMS.join(', ')}`)
  const keyFile = env.PRINTMQ_JWT_PUBLIC_KEY === undefined || env.PRINTMQ_JWT_PUBLIC_KEY === '' ? null : resolve(env.PRINTMQ_JWT_PUBLIC_KEY)
  const hasSecret = env.PRINTMQ_JWT_SECRET !== undefined && env.PRINTMQ_JWT_SECRET !== ''
  if (algorithm === 'HS256' && keyFile !== null) throw new ConfigError('PRINTMQ_JWT_PUBLIC_KEY', 'needs PRINTMQ_JWT_ALGORITHM=RS256 or ES256')
  if (algorithm !== 'HS256' && keyFile === null) throw new ConfigError('PRINTMQ_JWT_PUBLIC_KEY', `required with PRINTMQ_JWT_ALGORITHM=${algorithm}`)
  if (algorithm !== 'HS256' && hasSecret) throw new ConfigError('PRINTMQ_JWT_SECRET', `must not be set with PRINTMQ_JWT_ALGORITHM=${algorithm} (one way to verify tokens)`)

  const corsOrigins = (env.PRINTMQ_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter((o) => o !== '')
  for (const origin of corsOrigins) {
    if (!ORIGIN.test(origin)) throw new ConfigError('PRINTMQ_CORS_ORIGINS', `${JSON.stringify(origin)} is not an origin like https://app.example.com (no path, no wildcard, not null)`)
  }

  const redisUrl = env.PRINTMQ_REDIS_URL === undefined || env.PRINTMQ_REDIS_URL === '' ? null : env.PRINTMQ_REDIS_URL
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('PRINTMQ_REDIS_URL', 'must start with redis:// or rediss://')

  const heartbeat = count(env, 'PRINTMQ_EVENTS_HEARTBEAT_SECONDS', 15, 300)
  if (heartbeat === 0) throw new ConfigError('PRINTMQ_EVENTS_HEARTBEAT_SECONDS', 'must be 1-300')

  return Object.freeze({
    jwtAlgorithm: algorithm as JwtAlgorithm,
    jwtPublicKeyFile: keyFile,
    corsOrigins: Object.freeze(corsOrigins),
    redisUrl,
    rateLimits: Object.freeze({
      tenantPerMinute: count(env, 'PRINTMQ_RATE_LIMIT_TENANT', DEFAULT_JOB_RATE_LIMITS.tenantPerMinute, 1_000_000),
      branchPerMinute: count(env, 'PRINTMQ_RATE_LIMIT_BRANCH', DEFAULT_JOB_RATE_LIMITS.branchPerMinute, 1_000_000),
      printerPerMinute: count(env, 'PRINTMQ_RATE_LIMIT_PRINTER', DEFAULT_JOB_RATE_LIMITS.printerPerMinute, 1_000_000)
    }),
    eventsHeartbeatSeconds: heartbeat
  })
}
