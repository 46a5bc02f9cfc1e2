/**
 * Memory footprint of an idle agent with 4 printers: starts a broker (no auth) and 4
 * virtual printers in this process, builds the bundled agent (dist/printmq-agent.mjs,
 * scripts/build-agent.ts) from the current sources into dist/bench-PID/ (inside the
 * project, so its native externals resolve; removed at the end), and spawns each
 * variant as its own process (as on a Raspberry Pi): the bundle (`node FILE`) and, for
 * comparison, `printmq agent` through tsx. Each variant waits for its first health
 * message (connected, config received), idles (health and status polls running), and
 * its RSS is sampled from /proc. Prints one JSON line and a table.
 *
 *   npm run bench:agent
 *   npm run bench:agent -- --variants bundle --node-flags="--lite-mode --no-expose-wasm"
 *   npm run bench:agent -- --bundle dist/printmq-agent.mjs      (measure a built file)
 *   npm run bench:agent -- --minify full                        (whitespace (default), full, none)
 *   npm run bench:agent -- --jobs 1          (first print a receipt on each printer, then idle)
 *
 * PRINTMQ_BENCH_IDLE_MS=20000 idles longer (default 10000).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'
import { connectAsync } from 'mqtt'
import { buildAgent } from '../scripts/build-agent.js'
import { newId } from '../shared/ids.js'
import { createLicenseKey } from '../shared/license.js'
import { encodeMessage } from '../shared/messages.js'
import { agentTopic } from '../shared/topics.js'
import { VirtualPrinter } from '../virtual-printer/virtual-printer.js'

const IDLE_MS = Number(process.env.PRINTMQ_BENCH_IDLE_MS ?? 10_000)
const SAMPLES = 10
const HEALTH_WAIT_MS = 20_000
const ref = { tenant: 'bench', branch: 'b1', agent: 'pi' }

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string', default: 'bundle,tsx' },
    'node-flags': { type: 'string', default: '' },
    bundle: { type: 'string' },
    minify: { type: 'string', default: 'whitespace' },
    jobs: { type: 'string', default: '0' }
  }
})
const variants = args.variants.split(',').map((v) => v.trim()).filter((v) => v !== '')
for (const v of variants) if (v !== 'bundle' && v !== 'tsx') throw new Error(`unknown variant ${v}: bundle or tsx`)
const nodeFlags = args['node-flags'].split(' ').filter((f) => f !== '')
const minify = args.minify
const JOBS = Number(args.jobs)
if (!Number.isInteger(JOBS) || JOBS < 0) throw new Error(`--jobs ${args.jobs}: a count of jobs per printer`)
if (minify !== 'whitespace' && minify !== 'full' && minify !== 'none') throw new Error(`--minify ${minify}: whitespace, full or none`)

/** VmRSS, RssAnon (heap, stacks, malloc) and RssFile (mapped files: the node binary) in bytes. */
async function memoryOf (pid: number): Promise<{ rss: number, anon: number, file: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => {
    const value = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]
    if (value === undefined) throw new Error(`no ${field} in /proc status`)
    return Number(value) * 1024
  }
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') }
}

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

const workDir = await mkdtemp(join(tmpdir(), 'printmq-bench-'))
let bundleFile: string | undefined
let bundleBytes: number | undefined
if (variants.includes('bundle')) {
  if (args.bundle !== undefined) {
    bundleFile = resolve(args.bundle)
    bundleBytes = (await readFile(bundleFile)).length
  } else {
    // Inside the project so the external `serialport` resolves from its node_modules.
    const built = await buildAgent({ outfile: join(fileURLToPath(new URL('../dist/', import.meta.url)), `bench-${process.pid}`, 'printmq-agent.mjs'), minify })
    bundleFile = built.outfile
    bundleBytes = built.bytes
  }
}

const broker = await Aedes.createBroker()
const server = createServer(broker.handle)
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
const printers = await Promise.all([0, 1, 2, 3].map(async () => {
  const printer = new VirtualPrinter()
  await printer.start()
  return printer
}))
const observer = await connectAsync(url, { clientId: `bench-${newId()}`, protocolVersion: 4 })
await observer.publishAsync(agentTopic(ref, 'config'), encodeMessage('agent-config', newId(), {
  printers: printers.map((p, i) => ({ id: `printer-${i}`, model: 'epson' as const, width: 48, connection: { type: 'tcp' as const, host: '127.0.0.1', port: p.port } }))
}), { qos: 1, retain: true })
await observer.subscribeAsync(agentTopic(ref, 'health'), { qos: 1 })
interface SeenHealth { online: boolean, rssBytes?: number, heapUsedBytes?: number, at: number }
/** The agent's last health message (its own `process.memoryUsage()` figures). */
const seen: { health: SeenHealth | undefined } = { health: undefined }
observer.on('message', (_topic, payload) => {
  const health = JSON.parse(payload.toString('utf8')) as Omit<SeenHealth, 'at'>
  seen.health = { ...health, at: Date.now() }
})
const lastHealth = (): SeenHealth | undefined => seen.health

/** A receipt with the renderer's usual blocks (text styles, columns, QR code, barcode). */
const RECEIPT = {
  type: 'receipt' as const,
  blocks: [
    { type: 'text' as const, text: 'TABLE 12', align: 'center' as const, bold: true, width: 2, height: 2 },
    { type: 'divider' as const },
    { type: 'columns' as const, columns: [{ text: '2x Margherita' }, { text: '18.00', align: 'right' as const, width: 8 }] },
    { type: 'columns' as const, columns: [{ text: '1x Tiramisu with extra cream' }, { text: '6.50', align: 'right' as const, width: 8 }] },
    { type: 'qr' as const, data: 'https://example.com/r/12' },
    { type: 'barcode' as const, data: '4006381333931', symbology: 'ean13' as const }
  ]
}

/** Send `JOBS` receipts to each printer and wait for the tickets; how many and how long. */
async function printJobs (): Promise<{ count: number, ms: number | null }> {
  if (JOBS === 0) return { count: 0, ms: null }
  const before = printers.map((p) => p.tickets.length)
  const startedAt = performance.now()
  for (let j = 0; j < JOBS; j++) {
    for (const [i] of printers.entries()) {
      await observer.publishAsync(agentTopic(ref, 'jobs'), encodeMessage('print-job', newId(), {
        jobId: randomUUID(),
        printerId: `printer-${i}`,
        content: RECEIPT,
        copies: 1,
        expiresAt: new Date(Date.now() + 60_000).toISOString()
      }), { qos: 1 })
    }
  }
  await Promise.all(printers.map(async (p, i) => { await p.waitForTickets((before[i] ?? 0) + JOBS, 30_000) }))
  return { count: JOBS * printers.length, ms: Math.round(performance.now() - startedAt) }
}

interface Row {
  variant: string
  command: string
  startMs: number
  jobsPrinted: number
  printMs: number | null
  rssMbMedian: number
  rssMbMax: number
  rssAnonMb: number
  rssFileMb: number
  heapUsedMb: number | null
  statusRequestsAnswered: number
}

async function measure (variant: string): Promise<Row> {
  const stateDir = await mkdtemp(join(workDir, 'state-'))
  const agentArgs = ['--url', url, '--state-dir', stateDir, '--log-level', 'warn']
  const script = variant === 'bundle' ? bundleFile as string : fileURLToPath(new URL('../bin/printmq.js', import.meta.url))
  const argv = [...nodeFlags, script, ...(variant === 'tsx' ? ['agent'] : []), ...agentArgs]
  seen.health = undefined
  const startedAt = Date.now()
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, PRINTMQ_LICENSE: createLicenseKey(ref) },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const pid = child.pid
  if (pid === undefined) throw new Error('agent did not start')
  for (let h = lastHealth(); h?.online !== true || h.at < startedAt; h = lastHealth()) {
    if (Date.now() - startedAt > HEALTH_WAIT_MS) throw new Error(`${variant}: no online health after ${HEALTH_WAIT_MS} ms`)
    if (child.exitCode !== null) throw new Error(`${variant}: agent exited with ${child.exitCode}`)
    await sleep(20)
  }
  const startMs = Date.now() - startedAt
  const printed = await printJobs()
  const pollsBefore = printers.reduce((sum, p) => sum + p.statusRequests, 0)
  await sleep(IDLE_MS)
  const samples: Array<{ rss: number, anon: number, file: number }> = []
  for (let i = 0; i < SAMPLES; i++) {
    samples.push(await memoryOf(pid))
    await sleep(500)
  }
  const health = lastHealth()
  const polls = printers.reduce((sum, p) => sum + p.statusRequests, 0) - pollsBefore
  child.kill('SIGTERM')
  if (child.exitCode === null) await once(child, 'exit')
  const shown = argv.map((a) => a === bundleFile ? 'printmq-agent.mjs' : a.startsWith(workDir) ? 'STATE' : a.replace(/.*\/bin\/printmq\.js$/, 'bin/printmq.js'))
  return {
    variant,
    command: `node ${shown.join(' ')}`,
    startMs,
    jobsPrinted: printed.count,
    printMs: printed.ms,
    rssMbMedian: mb(median(samples.map((s) => s.rss))),
    rssMbMax: mb(Math.max(...samples.map((s) => s.rss))),
    rssAnonMb: mb(median(samples.map((s) => s.anon))),
    rssFileMb: mb(median(samples.map((s) => s.file))),
    heapUsedMb: health?.heapUsedBytes !== undefined ? mb(health.heapUsedBytes) : null,
    statusRequestsAnswered: polls
  }
}

const rows: Row[] = []
try {
  for (const variant of variants) rows.push(await measure(variant))
} finally {
  await observer.endAsync()
  await Promise.all(printers.map(async (p) => { await p.stop() }))
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  await new Promise<void>((resolve) => { broker.close(() => { resolve() }) })
  await rm(workDir, { recursive: true, force: true })
  if (args.bundle === undefined && bundleFile !== undefined) await rm(join(bundleFile, '..'), { recursive: true, force: true })
}

const result = {
  bench: 'agent-footprint',
  date: new Date().toISOString(),
  printers: 4,
  idleMs: IDLE_MS,
  samples: SAMPLES,
  nodeFlags: nodeFlags.join(' '),
  bundleKiB: bundleBytes !== undefined ? Math.round(bundleBytes / 1024) : null,
  minify: args.bundle === undefined ? minify : null,
  variants: rows,
  node: process.version,
  machine: `${platform()} ${release()} ${arch()}, ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, ${mb(totalmem())} MB`
}
console.log(JSON.stringify(result))
console.log(`
idle agent, 4 printers, ${IDLE_MS / 1000} s idle after its first health message, ${SAMPLES} RSS samples 0.5 s apart
node ${result.node}; ${result.machine}${bundleBytes !== undefined ? `; bundle ${result.bundleKiB} KiB${result.minify !== null ? `, minify ${result.minify}` : ''}` : ''}

| variant | command | jobs printed first | RSS median MB | RSS max MB | anon MB | file MB | heap used MB (health) | status requests while idle |
|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.variant} | \`${r.command}\` | ${r.jobsPrinted}${r.printMs !== null ? ` (${r.printMs} ms)` : ''} | ${r.rssMbMedian} | ${r.rssMbMax} | ${r.rssAnonMb} | ${r.rssFileMb} | ${r.heapUsedMb ?? '-'} | ${r.statusRequestsAnswered} |`).join('\n')}`)
