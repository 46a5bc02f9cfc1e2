/**
 * Scenario 1: end to end. A server process (PGlite, or PostgreSQL with --postgres URL),
 * N agents each with a virtual printer (default 50, in one branch-side process), jobs
 * submitted over HTTP with keep-alive from this process: at fixed rates (open loop) and
 * as fast as C concurrent clients can (closed loop). Reports jobs/s reaching `printed`
 * and submit-to-printed latency p50/p95/p99 from the jobs' own history (server clock).
 *
 *   npm run bench -- end-to-end [--agents N] [--rates 50,200] [--seconds S] [--concurrency C] [--postgres URL] [--skip-pglite 1] [--instant-agents 1] [--warmup-seconds 5]
 *
 * Before the measured rows, `--warmup-seconds` (default 5) at 100 jobs/s, not reported.
 * `--sustain-from R [--sustain-step 100]`: after the other rows, open-loop rates from R up
 * by the step until one is not sustained (printed at >= 98% of the rate, p99 <= 1 s); the
 * highest sustained rate is the last row marked `sustained: yes`.
 *
 * The server runs built as `npm run build` builds it (plain JavaScript, as in
 * production); `--from-sources 1` runs `bin/printmq.js` (tsx) instead.
 *
 * `--instant-agents 1`: agents that answer every job at once (no journal, no printer), to
 * measure the server's own capacity with the agents' work off the shared cores.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mintToken } from '../api/auth/tokens.js'
import { buildProcess, forkProcess, profileArgs, stopLoad, terminate, type LoadProcess } from './lib/children.js'
import { cpuSeconds, cpuSecondsByName, cpuSecondsSince, rssBytes } from './lib/process-stats.js'
import { report } from './lib/report.js'
import { createDatabase, freePort } from './lib/resources.js'
import { percentile, round } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Server { readonly child: ChildProcess, readonly api: string, readonly mqtt: string, readonly token: string }

/** `script`: what Node runs with `server` (the built dist file, or bin/printmq.js). */
async function startServer (dir: string, databaseUrl: string | null, script: string): Promise<Server> {
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const secret = randomBytes(32).toString('base64url')
  const child = spawn(process.execPath, [...profileArgs(), script, 'server'], {
    env: {
      ...process.env,
      PRINTMQ_HTTP_HOST: '127.0.0.1', PRINTMQ_HTTP_PORT: String(httpPort), PRINTMQ_MQTT_HOST: '127.0.0.1', PRINTMQ_MQTT_PORT: String(mqttPort),
      PRINTMQ_DATA_DIR: dir, PRINTMQ_JWT_SECRET: secret, PRINTMQ_LOG_LEVEL: 'warn',
      // The benchmark measures throughput, not the rate limiter: all scopes off.
      PRINTMQ_RATE_LIMIT_PRINTER: '0', PRINTMQ_RATE_LIMIT_BRANCH: '0', PRINTMQ_RATE_LIMIT_TENANT: '0',
      ...(databaseUrl !== null ? { DATABASE_URL: databaseUrl } : {})
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const api = `http://127.0.0.1:${httpPort}`
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${api}/readyz`).then((r) => r.ok, () => false)
    if (ok) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { child, api, mqtt: `mqtt://127.0.0.1:${mqttPort}`, token: mintToken(secret, { tenant: 'bench', role: 'admin', subject: 'bench', ttlSeconds: 86_400 }) }
}

/**
 * Keep-alive connections for the load: node:http costs this process a fraction of what
 * fetch does per request, so the load generator leaves the shared 2 cores to the system
 * under test (it took 20-50% of a core at 200 jobs/s with fetch).
 */
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 })

async function call (server: Server, method: string, path: string, body?: unknown): Promise<any> {
  const payload = body !== undefined ? JSON.stringify(body) : undefined
  const { status, text } = await new Promise<{ status: number, text: string }>((resolve, reject) => {
    const request = http.request(server.api + path, {
      method,
      agent: keepAlive,
      headers: { authorization: `Bearer ${server.token}`, ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) }
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(payload)
  })
  const json = JSON.parse(text)
  if (status < 200 || status > 299) throw new Error(`${method} ${path}: ${status} ${text}`)
  return json
}

const TICKET = 'Table 12\n2x Burger\n1x Fries\n1x Cola\n-----\nOrder #'

async function tickets (branch: LoadProcess): Promise<number> {
  return (await branch.request({ type: 'report' }, 'report')).tickets as number
}

async function waitPrinted (branch: LoadProcess, target: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let count = await tickets(branch)
  while (count < target && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    count = await tickets(branch)
  }
  return count
}

/**
 * Submit-to-printed of each job from its history (server clock), once the server has
 * recorded it: `?wait=` answers when the job is final. The paper can come out well
 * before the server has applied the agent's result when the server is saturated, so
 * waiting for tickets alone would read histories that do not say `printed` yet.
 */
async function latencies (server: Server, ids: readonly string[], started: number): Promise<{ values: number[], lastPrintedAt: number, stages: Record<string, number[]>, bySecond: Map<number, number[]> }> {
  const values: number[] = []
  // Latencies by the second of the row the job was submitted in: whether a high p99 is
  // one stall or spread over the row.
  const bySecond = new Map<number, number[]>()
  // Where the time goes: stored -> broker acknowledged, -> agent journaled, -> printed.
  const stages: Record<string, number[]> = { dispatched: [], accepted: [], printed: [] }
  let lastPrintedAt = 0
  for (let i = 0; i < ids.length; i += 32) {
    const jobs = await Promise.all(ids.slice(i, i + 32).map((id) => call(server, 'GET', `/v1/print-jobs/${id}?wait=60`)))
    for (const job of jobs) {
      const history = (job.history as Array<{ state: string, at: string, ignored: boolean }>).filter((e) => !e.ignored)
      const at = (state: string): number | null => { const e = history.find((h) => h.state === state); return e === undefined ? null : Date.parse(e.at) }
      const printed = at('printed')
      if (printed === null) continue
      const created = Date.parse(job.createdAt as string)
      values.push(printed - created)
      const second = Math.floor((created - started) / 1000)
      const inSecond = bySecond.get(second)
      if (inSecond === undefined) bySecond.set(second, [printed - created])
      else inSecond.push(printed - created)
      lastPrintedAt = Math.max(lastPrintedAt, printed)
      let before = created
      for (const state of ['dispatched', 'accepted', 'printed']) {
        const t = at(state)
        if (t === null) continue
        stages[state]?.push(t - before)
        before = t
      }
    }
  }
  return { values, lastPrintedAt, stages, bySecond }
}

/** The second of the row whose p99 was highest: `s7 p99 650` (second 7 from the row's start). */
function slowestSecond (bySecond: Map<number, number[]>): string {
  let worst: { second: number, p99: number } | null = null
  for (const [second, values] of bySecond) {
    const p99 = percentile(values, 99)
    if (worst === null || p99 > worst.p99) worst = { second, p99 }
  }
  return worst === null ? '-' : `s${worst.second} p99 ${round(worst.p99, 0)}`
}

async function measure (server: Server, branch: LoadProcess, printers: number, mode: { rate: number } | { concurrency: number }, seconds: number): Promise<Record<string, unknown>> {
  const before = await tickets(branch)
  const cpuBefore = await cpuSeconds(server.child.pid as number)
  const agentsCpuBefore = await cpuSeconds(branch.child.pid as number)
  const postgresCpuBefore = await cpuSecondsByName('postgres')
  const ids: string[] = []
  let failures = 0
  let n = 0
  const submit = async (): Promise<void> => {
    const i = n++
    try {
      const job = await call(server, 'POST', '/v1/print-jobs', { branchId: 'b1', printerId: `p${i % printers}`, content: { type: 'text', text: TICKET + i } })
      ids.push(job.id as string)
    } catch { failures++ }
  }
  const started = Date.now()
  const end = started + seconds * 1000
  if ('rate' in mode) {
    const pending: Array<Promise<void>> = []
    const interval = 1000 / mode.rate
    for (let k = 0; Date.now() < end; k++) {
      const due = started + k * interval
      const wait = due - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      pending.push(submit())
    }
    await Promise.all(pending)
  } else {
    await Promise.all(Array.from({ length: mode.concurrency }, async () => { while (Date.now() < end) await submit() }))
  }
  const submitSeconds = (Date.now() - started) / 1000
  const printed = await waitPrinted(branch, before + ids.length, 60_000) - before
  // CPU of each part until the last ticket came out, before the histories are read.
  const untilPaper = {
    server: (await cpuSeconds(server.child.pid as number)) - cpuBefore,
    agents: (await cpuSeconds(branch.child.pid as number)) - agentsCpuBefore,
    postgres: cpuSecondsSince(postgresCpuBefore, await cpuSecondsByName('postgres'))
  }
  const allPaperSeconds = (Date.now() - started) / 1000
  const { values: lat, lastPrintedAt, stages, bySecond } = await latencies(server, ids, started)
  // Until the server recorded the last job printed (same host, so one clock).
  const allPrintedSeconds = ((lastPrintedAt > 0 ? lastPrintedAt : Date.now()) - started) / 1000
  // Includes applying every result (which can trail the paper) and one GET per job.
  const cpu = (await cpuSeconds(server.child.pid as number)) - cpuBefore
  return {
    mode: 'rate' in mode ? `${mode.rate} jobs/s` : `max (${mode.concurrency} clients)`,
    submitted: ids.length,
    refused: failures,
    printed,
    submittedPerSecond: round(ids.length / submitSeconds, 0),
    // Tickets out of the virtual printers, and jobs the server recorded as printed.
    paperPerSecond: round(printed / allPaperSeconds, 0),
    printedPerSecond: round(lat.length / allPrintedSeconds, 0),
    p50Ms: round(percentile(lat, 50), 1),
    p95Ms: round(percentile(lat, 95), 1),
    p99Ms: round(percentile(lat, 99), 1),
    slowestSecond: slowestSecond(bySecond),
    // p50/p99 of each step (ms): to `dispatched` (stored, published, broker PUBACK recorded),
    // to `accepted` (agent journaled it; its result recorded), to `printed`.
    stagesP50P99Ms: Object.entries(stages).map(([state, v]) => `${state} ${round(percentile(v, 50), 0)}/${round(percentile(v, 99), 0)}`).join(', '),
    serverCpuMsPerJob: round((cpu / Math.max(1, printed)) * 1000, 2),
    // CPU ms per job until the last ticket was out (no history reads): the server, the
    // agents' process (agents and virtual printers), every PostgreSQL process on the
    // machine (0 with PGlite, which runs inside the server). What shares the 2 cores.
    cpuMsPerJobUntilPaper: Object.entries(untilPaper).map(([part, seconds]) => `${part} ${round((seconds / Math.max(1, printed)) * 1000, 2)}`).join(', '),
    serverRssMiB: round(await rssBytes(server.child.pid as number) / 2 ** 20, 1)
  }
}

/**
 * Whether an open-loop row kept up with its rate: jobs recorded `printed` at 98% of the
 * rate or more and a p99 of at most {@link SUSTAINED_P99_MS} (a backlog that grows during
 * the run shows as a p99 of seconds).
 */
const SUSTAINED_P99_MS = 1000
function keptUp (row: Record<string, unknown>, rate: number): boolean {
  return (row.printedPerSecond as number) >= 0.98 * rate && (row.p99Ms as number) <= SUSTAINED_P99_MS
}

async function scenario (database: 'pglite' | 'postgres', databaseUrl: string | null, args: Record<string, string>, serverScript: string): Promise<Array<Record<string, unknown>>> {
  const agents = Number(args.agents ?? 50)
  const seconds = Number(args.seconds ?? 10)
  const rates = (args.rates ?? '50,200').split(',').map(Number)
  const concurrency = Number(args.concurrency ?? 32)
  // Agents that answer at once, without journal or printer: the server's own capacity.
  const instant = args['instant-agents'] !== undefined && args['instant-agents'] !== '0'
  const dir = await mkdtemp(join(tmpdir(), 'printmq-bench-'))
  const server = await startServer(dir, databaseUrl, serverScript)
  const branch = await forkProcess('processes/agents.ts', { profile: true })
  try {
    const { ports } = instant ? { ports: Array.from({ length: agents }, () => 9) } : await branch.request({ type: 'printers', count: agents }, 'printers')
    await call(server, 'POST', '/v1/branches', { id: 'b1' })
    const licenses: string[] = []
    for (let i = 0; i < agents; i++) {
      licenses.push((await call(server, 'POST', '/v1/branches/b1/agents', { id: `a${i}` })).licenseKey as string)
      await call(server, 'POST', '/v1/branches/b1/printers', { id: `p${i}`, agentId: `a${i}`, model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: (ports as number[])[i] } })
    }
    if (instant) await branch.request({ type: 'instant-agents', url: server.mqtt, licenses }, 'agents')
    else await branch.request({ type: 'agents', url: server.mqtt, licenses, stateDir: join(dir, 'agents') }, 'agents')
    // Warm-up, not reported: V8 optimizes the hot paths of the server and the agents, the
    // connection pool and PostgreSQL's caches fill. With 40 jobs (2 s at 20 jobs/s) a run
    // that measured 200 jobs/s first had a p99 of 60-80 ms where a run measuring it after
    // 50 jobs/s had 30 ms (docs/performance.md, fourth round).
    const warmup = Number(args['warmup-seconds'] ?? 5)
    if (warmup > 0) await measure(server, branch, agents, { rate: 100 }, warmup)
    const rows: Array<Record<string, unknown>> = []
    const kind = instant ? 'instant' : 'printing'
    for (const rate of rates) rows.push({ database, agents: kind, ...(await measure(server, branch, agents, { rate }, seconds)) })
    rows.push({ database, agents: kind, ...(await measure(server, branch, agents, { concurrency }, seconds)) })
    // Open-loop rates from --sustain-from up by --sustain-step until one is not kept up with.
    const from = Number(args['sustain-from'] ?? 0)
    const step = Number(args['sustain-step'] ?? 100)
    for (let rate = from; from > 0 && step > 0; rate += step) {
      const row = await measure(server, branch, agents, { rate }, seconds)
      const sustained = keptUp(row, rate)
      rows.push({ database, agents: kind, ...row, mode: `${rate} jobs/s (sustained: ${sustained ? 'yes' : 'no'})` })
      if (!sustained) break
    }
    return rows
  } finally {
    await stopLoad([branch])
    await terminate(server.child)
    await rm(dir, { recursive: true, force: true })
  }
}

/** Run the scenario and print its results. */
export async function run (args: Record<string, string>): Promise<void> {
  const fromSources = args['from-sources'] === '1'
  const built = fromSources ? null : await buildProcess(join('..', 'cli', 'printmq.ts'))
  const serverScript = built?.file ?? join(root, 'bin/printmq.js')
  try {
    const rows = args['skip-pglite'] !== undefined ? [] : await scenario('pglite', null, args, serverScript)
    const postgres = args.postgres ?? process.env.PRINTMQ_BENCH_POSTGRES_URL
    if (postgres !== undefined) {
      const database = await createDatabase(postgres)
      try {
        rows.push(...await scenario('postgres', database.url, args, serverScript))
      } finally {
        await database.drop()
      }
    }
    report('end-to-end', { server: fromSources ? 'sources (bin/printmq.js, tsx)' : 'built (npm run build)', rows }, rows)
  } finally {
    await built?.remove()
  }
}
