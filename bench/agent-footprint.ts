/**
 * Memory footprint of an idle agent with 4 printers: starts a broker (no auth) and 4
 * virtual printers in this process, spawns `printmq agent` as its own process (as on a
 * Raspberry Pi), publishes its config, lets it settle idle (health and status polls
 * running), and samples the child's RSS from /proc. Prints one JSON line and a table.
 *
 *   npm run bench:agent            (PRINTMQ_BENCH_IDLE_MS=20000 to idle longer)
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Aedes } from 'aedes'
import { connectAsync } from 'mqtt'
import { newId } from '../shared/ids.js'
import { createLicenseKey } from '../shared/license.js'
import { encodeMessage } from '../shared/messages.js'
import { agentTopic } from '../shared/topics.js'
import { VirtualPrinter } from '../virtual-printer/virtual-printer.js'

const IDLE_MS = Number(process.env.PRINTMQ_BENCH_IDLE_MS ?? 10_000)
const SAMPLES = 10
const ref = { tenant: 'bench', branch: 'b1', agent: 'pi' }

async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
  if (kb === undefined) throw new Error('no VmRSS in /proc status')
  return Number(kb) * 1024
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
const stateDir = await mkdtemp(join(tmpdir(), 'printmq-bench-'))
const observer = await connectAsync(url, { clientId: `bench-${newId()}`, protocolVersion: 4 })
await observer.publishAsync(agentTopic(ref, 'config'), encodeMessage('agent-config', newId(), {
  printers: printers.map((p, i) => ({ id: `printer-${i}`, model: 'epson' as const, width: 48, connection: { type: 'tcp' as const, host: '127.0.0.1', port: p.port } }))
}), { qos: 1, retain: true })

const bin = fileURLToPath(new URL('../bin/printmq.js', import.meta.url))
const child = spawn(process.execPath, [bin, 'agent', '--url', url, '--state-dir', stateDir, '--log-level', 'warn'], {
  env: { ...process.env, PRINTMQ_LICENSE: createLicenseKey(ref) },
  stdio: ['ignore', 'inherit', 'inherit']
})
const pid = child.pid
if (pid === undefined) throw new Error('agent did not start')
await sleep(IDLE_MS)
const samples: number[] = []
for (let i = 0; i < SAMPLES; i++) {
  samples.push(await rssOf(pid))
  await sleep(500)
}
const polls = printers.reduce((sum, p) => sum + p.statusRequests, 0)
child.kill('SIGTERM')
await once(child, 'exit')
await observer.endAsync()
await Promise.all(printers.map(async (p) => { await p.stop() }))
await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
await new Promise<void>((resolve) => { broker.close(() => { resolve() }) })
await rm(stateDir, { recursive: true, force: true })

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10
const result = {
  bench: 'agent-footprint',
  date: new Date().toISOString(),
  printers: 4,
  idleMs: IDLE_MS,
  statusRequestsAnswered: polls,
  rssMbMedian: mb([...samples].sort((a, b) => a - b)[Math.floor(SAMPLES / 2)] ?? 0),
  rssMbMax: mb(Math.max(...samples)),
  node: process.version,
  machine: `${platform()} ${release()} ${arch()}, ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, ${mb(totalmem())} MB`
}
console.log(JSON.stringify(result))
console.log(`
| measure | value |
|---|---|
| idle agent, 4 printers, RSS median | ${result.rssMbMedian} MB |
| RSS max of ${SAMPLES} samples | ${result.rssMbMax} MB |
| idle time before sampling | ${IDLE_MS / 1000} s |
| status requests answered meanwhile | ${polls} |
| node | ${result.node} |
| machine | ${result.machine} |`)
