/**
 * Configuration of `printmq server`, read once from the environment (and flags, which
 * win), validated with a message naming the bad variable, then frozen (design §8).
 */
import { resolve } from 'node:path'
import { PrintmqError } from '../shared/errors.js'
import { loadHttpConfig, type HttpConfig } from './http-config.js'
import { CLUSTER_PREFIX_PATTERN } from '../broker/cluster-prefix.js'

/** Thrown for a bad variable or flag; the message names it. */
export class ConfigError extends PrintmqError {
  constructor (name: string, problem: string) {
    super('PRINTMQ_CONFIG_INVALID', 500, `${name}: ${problem}`)
  }
}

/** A port the server was told to listen on is taken; names the setting that chose it. */
export class PortInUseError extends PrintmqError {
  constructor (name: string, host: string, port: number, cause?: unknown) {
    super('PRINTMQ_PORT_IN_USE', 500, `${name}: port ${port} on ${host} is in use (another broker, or another printmq?); stop that process or choose another port`, { cause })
  }
}

/**
 * Where the embedded broker listens when the default MQTT port (1883) is taken and no
 * port was chosen: the same one at every start, so URLs handed out stay valid.
 */
export const FALLBACK_MQTT_PORT = 18830

/** Validated server configuration. */
export interface ServerConfig extends HttpConfig {
  readonly httpHost: string
  readonly httpPort: number
  /** Embedded broker on/off; off needs `mqttUrl`. */
  readonly embeddedBroker: boolean
  readonly mqttHost: string
  readonly mqttPort: number
  /** False when the MQTT port is the default: a busy default port falls back to {@link FALLBACK_MQTT_PORT}, then to a free one. */
  readonly mqttPortExplicit: boolean
  /** The fallback instead of {@link FALLBACK_MQTT_PORT} (tests). */
  readonly mqttFallbackPort?: number
  /** The broker URL agents are told to use (agent creation response); derived when null. */
  readonly publicMqttUrl: string | null
  /** External broker the server connects to when the embedded one is off. */
  readonly mqttUrl: string | null
  readonly mqttUsername: string | null
  readonly mqttPassword: string | null
  readonly dataDir: string
  /** PostgreSQL URL; null means embedded PGlite in `dataDir`. */
  readonly databaseUrl: string | null
  /** HS256 secret; null means: use (or create) the one in the data dir. */
  readonly jwtSecret: string | null
  readonly jwtIssuer: string | null
  readonly jwtAudience: string | null
  readonly logLevel: string
  readonly production: boolean
  /** Distinguishes this server's MQTT session from other instances'. */
  readonly instanceId: string
  /** Limits and extra listeners of the embedded broker. */
  readonly broker: BrokerConfig
  /** Seconds an `Idempotency-Key` and its response are kept. */
  readonly idempotencyTtlSeconds: number
  /** Run migrations at start (`PRINTMQ_MIGRATE=off`: the operator runs `printmq migrate`). */
  readonly migrateAtStart: boolean
  /** PostgreSQL URL migrations run with (the owner); null: `databaseUrl`. */
  readonly migrationDatabaseUrl: string | null
  /**
   * Namespace of this cluster in Redis (keys `{prefix}:...`, broker topics `{prefix}/...`,
   * the instances' channel `{prefix}:cluster`). With `redisUrl` and the embedded broker,
   * instances sharing URL and prefix form one broker.
   */
  readonly redisPrefix: string
  /** SIGTERM / SIGINT: seconds to drain before the process exits anyway. */
  readonly shutdownGraceSeconds: number
  /** Seconds past its deadline before the server expires a job its agent already has. */
  readonly expiryGraceSeconds: number
}

/** Limits and listeners of the embedded broker (README "Broker limits"). */
export interface BrokerConfig {
  /** Largest MQTT packet (and WebSocket message) a client may send, in bytes. */
  readonly maxPacketBytes: number
  /** Sockets that send no CONNECT within this time are closed. */
  readonly connectTimeoutMs: number
  /** Largest keepalive a client may ask for, in seconds (0, no keepalive, is refused). */
  readonly keepaliveMaxSeconds: number
  readonly listenBacklog: number
  /** Failed logins per address or login name within the window before logins are refused. */
  readonly loginMaxFailures: number
  readonly loginWindowSeconds: number
  /** Certificate and key files (PEM) of the mqtts listener; null: no TLS listener. */
  readonly tls: { readonly certFile: string, readonly keyFile: string, readonly port: number } | null
}

/** Flags of `printmq server` (override the environment). */
export interface ServerFlags {
  readonly 'http-port'?: string
  readonly 'mqtt-port'?: string
  readonly 'data-dir'?: string
  readonly 'log-level'?: string
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function port (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(name, `must be a port number 0-65535, got ${JSON.stringify(value)}`)
  return n
}

function integer (name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `must be a whole number ${min}-${max}, got ${JSON.stringify(value)}`)
  return n
}

function brokerConfig (env: NodeJS.ProcessEnv): BrokerConfig {
  const certFile = optional(env.PRINTMQ_MQTT_TLS_CERT)
  const keyFile = optional(env.PRINTMQ_MQTT_TLS_KEY)
  if ((certFile === null) !== (keyFile === null)) throw new ConfigError(certFile === null ? 'PRINTMQ_MQTT_TLS_CERT' : 'PRINTMQ_MQTT_TLS_KEY', 'PRINTMQ_MQTT_TLS_CERT and PRINTMQ_MQTT_TLS_KEY go together')
  return Object.freeze({
    // MQTT's Remaining Length encodes at most 268,435,455 bytes (§2.2.3).
    maxPacketBytes: integer('PRINTMQ_MQTT_MAX_PACKET_BYTES', env.PRINTMQ_MQTT_MAX_PACKET_BYTES, 1024 * 1024, 1024, 268_435_460),
    connectTimeoutMs: integer('PRINTMQ_MQTT_CONNECT_TIMEOUT_MS', env.PRINTMQ_MQTT_CONNECT_TIMEOUT_MS, 10_000, 100, 600_000),
    keepaliveMaxSeconds: integer('PRINTMQ_MQTT_KEEPALIVE_MAX', env.PRINTMQ_MQTT_KEEPALIVE_MAX, 600, 10, 65_535),
    listenBacklog: integer('PRINTMQ_MQTT_BACKLOG', env.PRINTMQ_MQTT_BACKLOG, 4096, 1, 65_535),
    loginMaxFailures: integer('PRINTMQ_MQTT_LOGIN_MAX_FAILURES', env.PRINTMQ_MQTT_LOGIN_MAX_FAILURES, 10, 1, 1_000_000),
    loginWindowSeconds: integer('PRINTMQ_MQTT_LOGIN_WINDOW_SECONDS', env.PRINTMQ_MQTT_LOGIN_WINDOW_SECONDS, 60, 1, 86_400),
    tls: certFile === null || keyFile === null
      ? null
      : Object.freeze({ certFile: resolve(certFile), keyFile: resolve(keyFile), port: port('PRINTMQ_MQTTS_PORT', env.PRINTMQ_MQTTS_PORT, 8883) })
  })
}

function optional (value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value
}

/** Read and validate the configuration. Pure: no I/O. */
export function loadServerConfig (env: NodeJS.ProcessEnv, flags: ServerFlags = {}): ServerConfig {
  const production = env.NODE_ENV === 'production'
  const broker = env.PRINTMQ_BROKER ?? 'embedded'
  if (broker !== 'embedded' && broker !== 'off') throw new ConfigError('PRINTMQ_BROKER', 'must be "embedded" or "off"')
  const mqttUrl = optional(env.PRINTMQ_MQTT_URL)
  if (broker === 'off' && mqttUrl === null) throw new ConfigError('PRINTMQ_MQTT_URL', 'required when PRINTMQ_BROKER=off')
  if (mqttUrl !== null && !/^(mqtts?|wss?):\/\//.test(mqttUrl)) throw new ConfigError('PRINTMQ_MQTT_URL', 'must start with mqtt://, mqtts://, ws:// or wss://')
  const publicMqttUrl = optional(env.PRINTMQ_PUBLIC_MQTT_URL)
  if (publicMqttUrl !== null && !/^(mqtts?|wss?):\/\//.test(publicMqttUrl)) throw new ConfigError('PRINTMQ_PUBLIC_MQTT_URL', 'must start with mqtt://, mqtts://, ws:// or wss://')
  const databaseUrl = optional(env.DATABASE_URL)
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL', 'must be a postgres:// URL')
  const jwtSecret = optional(env.PRINTMQ_JWT_SECRET)
  if (jwtSecret !== null && Buffer.byteLength(jwtSecret) < 32) throw new ConfigError('PRINTMQ_JWT_SECRET', 'must be at least 32 bytes')
  if (production && jwtSecret === null && optional(env.PRINTMQ_JWT_PUBLIC_KEY) === null) throw new ConfigError('PRINTMQ_JWT_SECRET', 'PRINTMQ_JWT_SECRET or PRINTMQ_JWT_PUBLIC_KEY is required when NODE_ENV=production (the server will not invent a secret in production)')
  const logLevel = flags['log-level'] ?? env.PRINTMQ_LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('PRINTMQ_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)
  const instanceId = env.PRINTMQ_INSTANCE_ID ?? 'main'
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(instanceId)) throw new ConfigError('PRINTMQ_INSTANCE_ID', 'must be 1-64 of A-Z a-z 0-9 _ -')
  const idempotencyTtl = env.PRINTMQ_IDEMPOTENCY_TTL_SECONDS ?? ''
  const idempotencyTtlSeconds = idempotencyTtl === '' ? 86_400 : Number(idempotencyTtl)
  if (!Number.isInteger(idempotencyTtlSeconds) || idempotencyTtlSeconds < 60 || idempotencyTtlSeconds > 2_592_000) throw new ConfigError('PRINTMQ_IDEMPOTENCY_TTL_SECONDS', 'must be an integer 60-2592000 (30 days)')
  const migrate = env.PRINTMQ_MIGRATE ?? 'on'
  if (migrate !== 'on' && migrate !== 'off') throw new ConfigError('PRINTMQ_MIGRATE', 'must be "on" or "off"')
  const migrationDatabaseUrl = optional(env.PRINTMQ_MIGRATION_DATABASE_URL)
  if (migrationDatabaseUrl !== null && !/^postgres(ql)?:\/\//.test(migrationDatabaseUrl)) throw new ConfigError('PRINTMQ_MIGRATION_DATABASE_URL', 'must be a postgres:// URL')

  const redisPrefix = optional(env.PRINTMQ_REDIS_PREFIX) ?? 'printmq'
  if (!CLUSTER_PREFIX_PATTERN.test(redisPrefix)) throw new ConfigError('PRINTMQ_REDIS_PREFIX', 'must be 1-64 of A-Z a-z 0-9 _ . : -')

  return Object.freeze({
    ...loadHttpConfig(env),
    httpHost: env.PRINTMQ_HTTP_HOST ?? '0.0.0.0',
    httpPort: port(flags['http-port'] !== undefined ? '--http-port' : 'PRINTMQ_HTTP_PORT', flags['http-port'] ?? env.PRINTMQ_HTTP_PORT, 3000),
    embeddedBroker: broker === 'embedded',
    mqttHost: env.PRINTMQ_MQTT_HOST ?? '0.0.0.0',
    mqttPort: port(flags['mqtt-port'] !== undefined ? '--mqtt-port' : 'PRINTMQ_MQTT_PORT', flags['mqtt-port'] ?? env.PRINTMQ_MQTT_PORT, 1883),
    mqttPortExplicit: (flags['mqtt-port'] ?? env.PRINTMQ_MQTT_PORT ?? '') !== '',
    publicMqttUrl: optional(env.PRINTMQ_PUBLIC_MQTT_URL),
    mqttUrl,
    mqttUsername: optional(env.PRINTMQ_MQTT_USERNAME),
    mqttPassword: optional(env.PRINTMQ_MQTT_PASSWORD),
    dataDir: resolve(flags['data-dir'] ?? env.PRINTMQ_DATA_DIR ?? './data'),
    databaseUrl,
    jwtSecret,
    jwtIssuer: optional(env.PRINTMQ_JWT_ISSUER),
    jwtAudience: optional(env.PRINTMQ_JWT_AUDIENCE),
    logLevel,
    production,
    instanceId,
    broker: brokerConfig(env),
    idempotencyTtlSeconds,
    migrateAtStart: migrate === 'on',
    migrationDatabaseUrl,
    redisPrefix,
    shutdownGraceSeconds: integer('PRINTMQ_SHUTDOWN_GRACE_SECONDS', env.PRINTMQ_SHUTDOWN_GRACE_SECONDS, 10, 1, 3600),
    expiryGraceSeconds: integer('PRINTMQ_EXPIRY_GRACE_SECONDS', env.PRINTMQ_EXPIRY_GRACE_SECONDS, 120, 0, 86_400)
  })
}
