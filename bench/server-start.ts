/**
 * How long `printmq server` takes to start: from spawn until it logs "printmq server
 * ready" (broker listening, API listening, database migrated), and the CPU and RSS it
 * used by then. Alternates the built command line (`npm run build`: `node
 * dist/printmq.mjs server`, built from the current sources into dist/bench-PID/) with
 * `node bin/printmq.js server` (the TypeScript sources through tsx), after one unmeasured
 * start of each that migrates the database. Every agent waits for this after a crash or
 * a deploy (the reconnect storm of the connections scenario includes it).
 *
 *   npm run bench -- server-start [--database postgres://...] [--runs N]
 *
 * Without --database: PGlite in a temporary data dir (its own start is about 1.5 s of
 * CPU of it).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { buildServer } from '../scripts/build-server.js'
import { cpuSeconds, rssBytes } from './lib/process-stats.js'
import { report } from './lib/report.js'
import { createDatabase } from './lib/resources.js'
import { percentile, round } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const START_TIMEOUT_MS = 120_000

interface Start { readonly seconds: number, readonly cpuSeconds: number, readonly rssMiB: number }

/** Start `node script server`, wait for "printmq server ready", measure, stop it. */
async function startOnce (script: string, env: NodeJS.ProcessEnv): Promise<Start> {
  const started = process.hrtime.bigint()
  const child = spawn(process.execPath, [script, 'server'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, START_TIMEOUT_MS)
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.includes('"msg":"printmq server ready"')) continue
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const pid = child.pid as number
      const result = { seconds, cpuSeconds: await cpuSeconds(pid), rssMiB: await rssBytes(pid) / 2 ** 20 }
      child.stdout.resume()
      child.kill('SIGTERM')
      await once(child, 'exit')
      return result
    }
    throw new Error(`${script} server exited before it was ready`)
  } finally {
    clearTimeout(timer)
  }
}

/** Run the scenario and print its results. */
export async function run (args: Record<string, string>): Promise<void> {
  const runs = Number(args.runs ?? 5)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${args.runs}: a positive count`)
  const dir = await mkdtemp(join(tmpdir(), 'printmq-bench-start-'))
  const database = args.database !== undefined ? await createDatabase(args.database) : null
  const buildDir = join(root, 'dist', `bench-${process.pid}`)
  try {
    const built = await buildServer({ outfile: join(buildDir, 'printmq.mjs') })
    const variants = [
      { name: 'built (dist/printmq.mjs)', script: built.outfile },
      { name: 'sources (bin/printmq.js, tsx)', script: join(root, 'bin', 'printmq.js') }
    ]
    const env: NodeJS.ProcessEnv = {
      PRINTMQ_HTTP_HOST: '127.0.0.1', PRINTMQ_HTTP_PORT: '0', PRINTMQ_MQTT_HOST: '127.0.0.1', PRINTMQ_MQTT_PORT: '0',
      PRINTMQ_DATA_DIR: join(dir, 'data'), PRINTMQ_JWT_SECRET: randomBytes(32).toString('base64url'), PRINTMQ_LOG_LEVEL: 'info',
      DATABASE_URL: database?.url ?? '', PRINTMQ_REDIS_URL: ''
    }
    for (const variant of variants) await startOnce(variant.script, env)
    const rows: Array<Record<string, unknown>> = []
    for (let i = 0; i < runs; i++) {
      for (const variant of variants) {
        const start = await startOnce(variant.script, env)
        rows.push({ run: i + 1, variant: variant.name, readySeconds: round(start.seconds, 2), cpuSeconds: round(start.cpuSeconds, 2), rssMiB: round(start.rssMiB, 1) })
      }
    }
    const summary = Object.fromEntries(variants.map((variant) => {
      const mine = rows.filter((r) => r.variant === variant.name)
      const median = (key: string): number => round(percentile(mine.map((r) => r[key] as number), 50), 2)
      return [variant.name, { medianReadySeconds: median('readySeconds'), medianCpuSeconds: median('cpuSeconds'), medianRssMiB: median('rssMiB') }]
    }))
    report('server-start', { database: database !== null ? 'postgres' : 'pglite', runs, summary }, rows)
  } finally {
    await rm(buildDir, { recursive: true, force: true })
    await rm(dir, { recursive: true, force: true })
    await database?.drop()
  }
}
