/**
 * A cluster of real `printmq server` processes for tests: each on its own free HTTP and
 * MQTT ports (kept across restarts), all sharing one fresh PostgreSQL database and one
 * Redis prefix (its keys deleted at teardown; never FLUSHALL, the Redis is shared).
 * Needs PRINTMQ_TEST_POSTGRES_URL and PRINTMQ_TEST_REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { mintToken } from '../../../api/auth/tokens.js'
import { testDatabases, TEST_POSTGRES_URL } from '../../helpers/databases.js'

const BIN = fileURLToPath(new URL('../../../bin/printmq.js', import.meta.url))

/** The Redis server for cluster tests, if any. */
export const TEST_REDIS_URL = process.env.PRINTMQ_TEST_REDIS_URL ?? null

/** Why cluster tests cannot run here, or false. */
export const CLUSTER_SKIP: string | false =
  TEST_POSTGRES_URL === null
    ? 'PRINTMQ_TEST_POSTGRES_URL is not set (a cluster shares PostgreSQL; PGlite is one process)'
    : TEST_REDIS_URL === null ? 'PRINTMQ_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379)' : false

/** Bounds of process waits, ms (generous: CI machines are shared). */
const START_TIMEOUT_MS = 60_000
const KILL_TIMEOUT_MS = 10_000

/** A free TCP port on 127.0.0.1, chosen now and reused by every start. */
export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => { resolve() }))
  return port
}

/** Rejects after `ms` with `what` in the message; the timer never keeps the process up. */
export async function within<T> (ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what}: no result within ${ms} ms`)) }, ms)
    timer.unref()
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** How a process ended. */
export interface Exit { readonly code: number | null, readonly signal: NodeJS.Signals | null, readonly ms: number }

/** One `printmq server` process of the cluster. */
export class ServerProcess {
  readonly name: string
  readonly httpPort: number
  readonly mqttPort: number
  readonly #env: NodeJS.ProcessEnv
  readonly #logFile: string
  #child: ChildProcess | null = null
  starts = 0

  constructor (name: string, httpPort: number, mqttPort: number, env: NodeJS.ProcessEnv, logFile: string) {
    this.name = name
    this.httpPort = httpPort
    this.mqttPort = mqttPort
    this.#env = env
    this.#logFile = logFile
  }

  get httpUrl (): string { return `http://127.0.0.1:${this.httpPort}` }
  get mqttUrl (): string { return `mqtt://127.0.0.1:${this.mqttPort}` }
  get running (): boolean { return this.#child !== null }
  get logFile (): string { return this.#logFile }

  /** Start and wait for "printmq server ready" (bounded). */
  async start (): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'server'], { env: { ...process.env, ...this.#env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    this.starts++
    const log = createWriteStream(this.#logFile, { flags: 'a' })
    child.stderr?.pipe(log)
    let buffered = ''
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        log.write(chunk)
        buffered += chunk.toString('utf8')
        if (buffered.includes('"msg":"printmq server ready"')) { buffered = ''; resolve() } else if (buffered.length > 65536) buffered = buffered.slice(-1024)
      })
      child.once('exit', (code, signal) => { reject(new Error(`server ${this.name} exited (${String(code ?? signal)}) before it was ready`)) })
    })
    ready.catch(() => {})
    child.once('exit', () => { log.end() })
    await within(START_TIMEOUT_MS, `server ${this.name} start #${this.starts}`, ready)
  }

  /** Send `signal` and wait (at most `ms`) for the exit. */
  async signal (signal: NodeJS.Signals, ms: number): Promise<Exit> {
    const child = this.#child
    if (child === null) throw new Error(`server ${this.name} is not running`)
    const started = Date.now()
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    child.kill(signal)
    try {
      const [code, sig] = await within(ms, `server ${this.name} exit after ${signal}`, exited)
      this.#child = null
      return { code, signal: sig, ms: Date.now() - started }
    } catch (err) {
      await this.kill()
      throw err
    }
  }

  /** SIGKILL: no drain, no goodbye. Resolves when the process is gone (bounded). */
  async kill (): Promise<void> {
    const child = this.#child
    this.#child = null
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await within(KILL_TIMEOUT_MS, `server ${this.name} exit after SIGKILL`, exited)
  }

  /** The last lines of its log, for diagnostics. */
  async tail (lines = 25): Promise<string> {
    const text = await readFile(this.#logFile, 'utf8').catch(() => '')
    return text.split('\n').slice(-lines).join('\n')
  }
}

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
      PRINTMQ_HTTP_HOST: '127.0.0.1',
      PRINTMQ_HTTP_PORT: String(httpPort),
      PRINTMQ_MQTT_HOST: '127.0.0.1',
      PRINTMQ_MQTT_PORT: String(mqttPort),
      PRINTMQ_DATA_DIR: join(dir, `data-${name}`),
      PRINTMQ_JWT_SECRET: secret,
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
  const call: TestCluster['call'] = async (server, method, path, token, body, headers = {}) => {
    const response = await fetch(server.httpUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000)
    })
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch {}
    return { status: response.status, body: parsed }
  }
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
