/**
 * Scenarios 3 and 4: N agents (default 10,000) with real licenses connect to one broker
 * instance (license check against the database, ACL on): time to connect them all and
 * broker RSS per connection. Then the broker process is killed and started again on
 * the same port and database: time until every agent is online again. Wall-clock
 * figures depend on the machine's load; the broker's CPU per connect (first connection
 * of all agents) and the new process's CPU during the storm (start included) do less.
 * The broker runs built as `npm run build` builds printmq (plain JavaScript, as in
 * production); `--from-sources 1` runs it from the TypeScript through tsx instead.
 *
 *   npm run bench -- connections [--agents N] [--processes P] [--database postgres://...] [--from-sources 1]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { agentMqttIdentity } from '../shared/license.js'
import { agentTopic } from '../shared/topics.js'
import { buildProcess, forkLoad, spawnWithJsonLine, stopLoad, terminate, type LoadProcess } from './lib/children.js'
import { cpuSeconds, rssBytes } from './lib/process-stats.js'
import { report } from './lib/report.js'
import { createDatabase, freePort } from './lib/resources.js'
import { round } from './lib/stats.js'

async function onlineCount (loads: readonly LoadProcess[]): Promise<number> {
  const reports = await Promise.all(loads.map((p) => p.request({ type: 'report' }, 'report')))
  return reports.reduce((sum, r) => sum + (r.online as number), 0)
}

/** Run the scenario and print its results. */
export async function run (args: Record<string, string>): Promise<void> {
  const agents = Number(args.agents ?? 10_000)
  const processes = Number(args.processes ?? 4)
  const timeoutMs = Number(args['timeout-seconds'] ?? 120) * 1000
  const dir = await mkdtemp(join(tmpdir(), 'printmq-bench-'))
  const port = await freePort()
  const database = args.database !== undefined ? await createDatabase(args.database) : null
  const env = { ...(database !== null ? { BENCH_DATABASE_URL: database.url } : {}), BENCH_AGENTS: String(agents), BENCH_DATA_DIR: join(dir, 'db'), BENCH_LICENSES_FILE: join(dir, 'licenses.json'), BENCH_PORT: String(port) }
  const fromSources = args['from-sources'] === '1'
  const built = fromSources ? null : await buildProcess('processes/printmq-broker.ts')
  const startBroker = async (): Promise<Awaited<ReturnType<typeof spawnWithJsonLine>>> => await spawnWithJsonLine('processes/printmq-broker.ts', env, built?.file)
  let broker = await startBroker()
  const loads = await Promise.all(Array.from({ length: processes }, forkLoad))
  try {
    const keys = JSON.parse(await readFile(env.BENCH_LICENSES_FILE, 'utf8')) as string[]
    const logins = keys.map((key, i) => {
      const ref = { tenant: 'bench', branch: 'b1', agent: `a${i}` }
      return { ...agentMqttIdentity(ref), password: key, topic: agentTopic(ref, 'jobs') }
    })
    // RSS per connection is measured between half and all agents connected, so the
    // database's and runtime's own memory (large for PGlite) cancels out.
    const connectHalf = async (part: readonly typeof logins[number][]): Promise<number> => {
      const per = Math.ceil(part.length / processes)
      const started = Date.now()
      await Promise.all(loads.map((p, i) => p.request({ type: 'connectors', url: `mqtt://127.0.0.1:${port}`, logins: part.slice(i * per, (i + 1) * per) }, 'ready')))
      return (Date.now() - started) / 1000
    }
    const settledRss = async (): Promise<number> => {
      await new Promise((resolve) => setTimeout(resolve, 2000))
      return await rssBytes(broker.child.pid as number)
    }
    const half = Math.floor(logins.length / 2)
    const cpuBeforeConnect = await cpuSeconds(broker.child.pid as number)
    const firstSeconds = await connectHalf(logins.slice(0, half))
    const rssHalf = await settledRss()
    const secondSeconds = await connectHalf(logins.slice(half))
    const connectCpu = await cpuSeconds(broker.child.pid as number) - cpuBeforeConnect
    const rssConnected = await settledRss()
    const connectSeconds = firstSeconds + secondSeconds
    const online = await onlineCount(loads)

    const restartStart = Date.now()
    await terminate(broker.child, 'SIGKILL')
    broker = await startBroker()
    const restartSeconds = (Date.now() - restartStart) / 1000
    let back = 0
    while (Date.now() - restartStart < timeoutMs) {
      back = await onlineCount(loads)
      if (back >= agents) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const stormSeconds = (Date.now() - restartStart) / 1000
    // CPU of the new broker process so far: its start plus every reconnect's license check.
    const stormCpu = await cpuSeconds(broker.child.pid as number)
    const rows = [{
      agents,
      brokerFrom: fromSources ? 'sources (tsx)' : 'build',
      connectedAtOnce: online,
      secondsToConnectAll: round(connectSeconds, 2),
      brokerRssHalfMiB: round(rssHalf / 2 ** 20, 1),
      brokerRssConnectedMiB: round(rssConnected / 2 ** 20, 1),
      rssPerConnectionKiB: round((rssConnected - rssHalf) / Math.max(1, logins.length - half) / 1024, 1),
      brokerCpuMsPerConnect: round(connectCpu / Math.max(1, logins.length) * 1000, 2),
      reconnectStormSeconds: back >= agents ? round(stormSeconds, 2) : null,
      restartSeconds: round(restartSeconds, 2),
      stormBrokerCpuSeconds: round(stormCpu, 2),
      onlineAfterStorm: back
    }]
    report('connections', { ...rows[0] }, rows)
  } finally {
    await stopLoad(loads)
    await terminate(broker.child)
    await rm(dir, { recursive: true, force: true })
    await built?.remove()
    await database?.drop()
  }
}
