/** Child processes of a benchmark: load generators over IPC, brokers over stdout. */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { buildServer } from '../../scripts/build-server.js'

const here = fileURLToPath(new URL('..', import.meta.url))

/** A load-generator process (bench/processes/mqtt-load.ts). */
export interface LoadProcess {
  readonly child: ChildProcess
  /** Send a command and wait for the reply of `replyType`. */
  request (command: Record<string, unknown>, replyType: string): Promise<any>
}

/** Fork a load generator and wait until it is up. */
export async function forkLoad (): Promise<LoadProcess> {
  return await forkProcess('processes/mqtt-load.ts')
}

/**
 * Fork `script` (relative to bench/) with IPC and wait for its `started` message. With
 * `profile`, it writes a CPU profile like the process under test (the end-to-end
 * scenario's agents are part of the system measured, not load).
 */
export async function forkProcess (script: string, options: { profile?: boolean } = {}): Promise<LoadProcess> {
  const execArgv = ['--import', 'tsx', '--max-old-space-size=4096', ...(options.profile === true ? profileArgs() : [])]
  const child = fork(`${here}${script}`, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const replies: Array<{ type: string, resolve: (value: any) => void, reject: (err: Error) => void }> = []
  child.on('message', (message: any) => {
    if (message.type === 'error') { for (const r of replies.splice(0)) r.reject(new Error(message.message)); return }
    const index = replies.findIndex((r) => r.type === message.type)
    if (index >= 0) replies.splice(index, 1)[0]?.resolve(message)
  })
  await new Promise<void>((resolve) => { replies.push({ type: 'started', resolve: () => { resolve() }, reject: () => {} }) })
  return {
    child,
    request: async (command, replyType) => await new Promise((resolve, reject) => {
      replies.push({ type: replyType, resolve, reject })
      child.send(command)
    })
  }
}

/** Ask every load process to exit. */
export async function stopLoad (processes: readonly LoadProcess[]): Promise<void> {
  await Promise.all(processes.map(async (p) => {
    if (p.child.exitCode !== null) return
    p.child.send({ type: 'exit' })
    await once(p.child, 'exit')
  }))
}

/**
 * Node options that make a measured process (broker, server) write a V8 CPU profile
 * into the directory of `--cpu-prof DIR` (set as BENCH_CPU_PROF_DIR by bench/run.ts)
 * when it exits. Load generators are never profiled; the end-to-end scenario's agents are. Summarize with
 * `node --import tsx bench/lib/profile-summary.ts FILE.cpuprofile`.
 */
export function profileArgs (): string[] {
  const dir = process.env.BENCH_CPU_PROF_DIR
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
}

/**
 * Spawn `script` (relative to bench/) and wait for its first JSON line on stdout: from
 * its TypeScript through tsx, or (`built`, a file of {@link buildProcess}) as plain
 * JavaScript, as `node dist/printmq.mjs` runs in production.
 */
export async function spawnWithJsonLine (script: string, env: Record<string, string>, built?: string): Promise<{ child: ChildProcess, line: any }> {
  const args = built !== undefined ? [built] : ['--import', 'tsx', `${here}${script}`]
  const child = spawn(process.execPath, [...profileArgs(), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  for await (const text of lines) {
    try { return { child, line: JSON.parse(text) } } catch {}
  }
  throw new Error(`${script} exited before printing its JSON line`)
}

/**
 * Build `script` (relative to bench/) as `npm run build` builds the command line
 * (scripts/build-server.ts) into dist/bench-PID/ (inside the project, where its
 * packages resolve); returns the file and a function that removes the folder.
 */
export async function buildProcess (script: string): Promise<{ file: string, remove: () => Promise<void> }> {
  const dir = join(here, '..', 'dist', `bench-${process.pid}`)
  const file = join(dir, `${basename(script, '.ts')}.mjs`)
  await buildServer({ entry: `${here}${script}`, outfile: file })
  return { file, remove: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** SIGTERM a child and wait for it to exit. */
export async function terminate (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  await once(child, 'exit')
}
