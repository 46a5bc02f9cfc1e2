/**
 * A cluster of real `printmq server` processes for tests: each on its own free HTTP and
 * MQTT ports (kept across restarts), all sharing one fresh PostgreSQL database and one
 * Redis prefix (its keys deleted at teardown; never FLUSHALL, the Redis is shared).
 * Needs PRINTMQ_TEST_POSTGRES_URL and PRINTMQ_TEST_REDIS_URL.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { mintToken } from '../../../api/auth/tokens.js'
import { testDatabases, TEST_POSTGRES_URL } from '../../helpers/databases.js'
import { callJson, freePort, localServerEnv, ServerProcess } from '../../helpers/server-process.js'

export { freePort, localServerEnv, within, ServerProcess, type Exit } from '../../helpers/server-process.js'

/** The Redis server for cluster tests, if any. */
export const TEST_REDIS_URL = process.env.PRINTMQ_TEST_REDIS_URL ?? null

/** Why cluster tests cannot run here, or false. */
export const CLUSTER_SKIP: string | false =
  TEST_POSTGRES_URL === null
    ? 'PRINTMQ_TEST_POSTGRES_URL is not set (a cluster shares PostgreSQL; PGlite is one process)'
    : TEST_REDIS_URL === null ? 'PRINTMQ_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379)' : false

/** A started cluster and what tests need to talk to it. */
export interface TestCluster {
  readonly servers: readonly ServerProcess[]
  readonly secret: string
  readonly prefix: string
  readonly dir: string
  /** A token of tenant `tenant`. */
  token (role: 'admin' | 'operator' | 'technician'): string
  readonly tenant: string
  /** One HTTP call to `server`; JSON in and out. */
  call (server: ServerProcess, method: string, path: string, token: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number, body: any }>
}

/**
 * Start `count` servers one after another (the first migrates the fresh database), with
 * `env` added to each. Everything is stopped and removed at `t`'s teardown.
 */
export async function startCluster (t: Test, count: number, env: NodeJS.ProcessEnv = {}): Promise<TestCluster> {
  const postgres = testDatabases().find((d) => d.name === 'postgres')
  if (postgres === undefined || TEST_REDIS_URL === null) throw new Error('cluster tests need PostgreSQL and Redis')
  const location = await postgres.create(t)
  if (location.kind !== 'postgres') throw new Error('expected a PostgreSQL database')
  const dir = await mkdtemp(join(tmpdir(), 'printmq-cluster-'))
  const prefix = `printmq-test-${randomBytes(5).toString('hex')}`
  const secret = randomBytes(32).toString('base64url')
  const tenant = `t${randomBytes(3).toString('hex')}`
  const servers: ServerProcess[] = []
  for (let i = 0; i < count; i++) {
    const name = String.fromCharCode(97 + i)
    // Ports are fixed per server, so a restarted instance is where agents expect it.
    const [httpPort, mqttPort] = [await freePort(), await freePort()]
    servers.push(new ServerProcess(name, httpPort, mqttPort, {
      ...localServerEnv(httpPort, mqttPort, join(dir, `data-${name}`), secret),
      PRINTMQ_INSTANCE_ID: name,
      PRINTMQ_LOG_LEVEL: process.env.PRINTMQ_TEST_SERVER_LOG_LEVEL ?? 'info',
      PRINTMQ_RATE_LIMIT_PRINTER: '0',
      PRINTMQ_RATE_LIMIT_BRANCH: '0',
      PRINTMQ_RATE_LIMIT_TENANT: '0',
      PRINTMQ_REDIS_URL: TEST_REDIS_URL,
      PRINTMQ_REDIS_PREFIX: prefix,
      DATABASE_URL: location.url,
      ...env
    }, join(dir, `server-${name}.log`)))
  }
  t.teardown(async () => {
    await Promise.all(servers.map(async (server) => { await server.kill().catch(() => {}) }))
    await dropRedisPrefix(prefix).catch(() => {})
    if (process.env.PRINTMQ_TEST_KEEP_LOGS === undefined) await rm(dir, { recursive: true, force: true })
    else t.comment(`cluster logs in ${dir}`)
  })
  for (const server of servers) await server.start()
  const call: TestCluster['call'] = async (server, method, path, token, body, headers = {}) => await callJson(server.httpUrl, method, path, token, body, headers)
  return {
    servers,
    secret,
    prefix,
    dir,
    tenant,
    token: (role) => mintToken(secret, { tenant, role, subject: `test-${role}`, ttlSeconds: 3600 }),
    call
  }
}

/** Delete every Redis key of a test prefix. */
export async function dropRedisPrefix (prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL as string, { maxRetriesPerRequest: 1 })
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]))
    }
  } finally { redis.disconnect() }
}
