/**
 * Real `printmq server` child processes for tests that kill, restart or signal them
 * (server crash, cluster, rolling restart): fixed ports kept across restarts, output
 * to a log file, every wait bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/printmq.js', import.meta.url))

/** Bounds of process waits, ms (generous: CI machines are shared). */
export const START_TIMEOUT_MS = 60_000
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

/** The variables every server process of the tests gets: both listeners on 127.0.0.1, its data dir and JWT secret. */
export function localServerEnv (httpPort: number, mqttPort: number, dataDir: string, jwtSecret: string): NodeJS.ProcessEnv {
  return {
    PRINTMQ_HTTP_HOST: '127.0.0.1',
    PRINTMQ_HTTP_PORT: String(httpPort),
    PRINTMQ_MQTT_HOST: '127.0.0.1',
    PRINTMQ_MQTT_PORT: String(mqttPort),
    PRINTMQ_DATA_DIR: dataDir,
    PRINTMQ_JWT_SECRET: jwtSecret
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
  readonly #bin: string
  #child: ChildProcess | null = null
  starts = 0

  /** `bin`: the script Node runs with `server` (default bin/printmq.js; a build's dist/printmq.mjs). */
  constructor (name: string, httpPort: number, mqttPort: number, env: NodeJS.ProcessEnv, logFile: string, bin: string = BIN) {
    this.name = name
    this.httpPort = httpPort
    this.mqttPort = mqttPort
    this.#env = env
    this.#logFile = logFile
    this.#bin = bin
  }

  get httpUrl (): string { return `http://127.0.0.1:${this.httpPort}` }
  get mqttUrl (): string { return `mqtt://127.0.0.1:${this.mqttPort}` }
  get running (): boolean { return this.#child !== null }
  get logFile (): string { return this.#logFile }

  /** Start and wait for "printmq server ready" (bounded). */
  async start (): Promise<void> {
    const child = spawn(process.execPath, [this.#bin, 'server'], { env: { ...process.env, ...this.#env }, stdio: ['ignore', 'pipe', 'pipe'] })
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

/** One HTTP call with a bearer token, JSON in and out (text when the answer is not JSON); 30 s bound. */
export async function callJson (baseUrl: string, method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const response = await fetch(baseUrl + path, {
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
