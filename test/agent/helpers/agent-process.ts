/**
 * Runs `printmq agent` as a child process (the real CLI, as systemd would), so a test
 * can kill it with SIGKILL like a power cut and start it again on the same state dir.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../../bin/printmq.js', import.meta.url))

/** Options of {@link AgentProcess}. */
export interface AgentProcessOptions {
  readonly url: string
  readonly licenseKey: string
  readonly stateDir: string
  /** Extra flags. */
  readonly args?: readonly string[]
}

/** One agent process at a time, restartable. */
export class AgentProcess {
  readonly #options: AgentProcessOptions
  #child: ChildProcess | null = null
  starts = 0

  constructor (options: AgentProcessOptions) {
    this.#options = options
  }

  /** Start the process; resolves once it logged its MQTT connection. */
  async start (timeoutMs = 20_000): Promise<void> {
    const { url, licenseKey, stateDir, args = [] } = this.#options
    const child = spawn(process.execPath, [BIN, 'agent', '--url', url, '--state-dir', stateDir, '--log-level', 'info', ...args], {
      env: { ...process.env, PRINTMQ_LICENSE: licenseKey },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    this.#child = child
    this.starts++
    await new Promise<void>((resolve, reject) => {
      let buffered = ''
      const timer = setTimeout(() => { reject(new Error(`agent not connected within ${timeoutMs} ms`)) }, timeoutMs)
      const onExit = (code: number | null): void => {
        clearTimeout(timer)
        reject(new Error(`agent exited with ${String(code)} before connecting`))
      }
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString('utf8')
        if (buffered.includes('"msg":"mqtt connected"')) {
          clearTimeout(timer)
          child.stdout?.off('data', onData)
          child.off('exit', onExit)
          child.stdout?.resume()
          resolve()
        } else if (buffered.length > 65536) {
          buffered = buffered.slice(-1024)
        }
      }
      child.stdout?.on('data', onData)
      child.once('exit', onExit)
    })
  }

  /** SIGKILL: no goodbye, no flush beyond what was fsync'ed. Resolves when it is gone. */
  async kill (): Promise<void> {
    const child = this.#child
    if (child === null) return
    this.#child = null
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /** SIGTERM and wait for the clean stop. */
  async stop (): Promise<void> {
    const child = this.#child
    if (child === null) return
    this.#child = null
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
}
