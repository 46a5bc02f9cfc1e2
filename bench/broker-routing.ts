/**
 * Scenario 2: the same MQTT load against printmq's broker (license auth + ACL on) and
 * against Mosquitto 2 (password file + pattern ACL), alternating A B A B in one run.
 * 1,000 subscribers on their own jobs topics at QoS 1, 256-byte payloads, several
 * publishers. Reports delivered msg/s, latency, broker CPU per message, broker RSS,
 * and the printmq/Mosquitto ratio.
 *
 *   npm run bench -- broker-routing [--subscribers N] [--seconds S] [--rounds R] [--brokers printmq,mosquitto,aedes]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { agentMqttIdentity } from '../shared/license.js'
import { agentTopic } from '../shared/topics.js'
import { forkLoad, spawnWithJsonLine, stopLoad, terminate, type LoadProcess } from './lib/children.js'
import { cpuSeconds, rssBytes } from './lib/process-stats.js'
import { report } from './lib/report.js'
import { freePort } from './lib/resources.js'
import { percentile, round } from './lib/stats.js'

interface Options { subscribers: number, seconds: number, rounds: number, subscriberProcesses: number, publisherProcesses: number, window: number, brokers: string[] }

interface Target {
  readonly name: 'printmq' | 'mosquitto' | 'aedes'
  readonly url: string
  readonly pid: number
  readonly logins: Array<{ username: string, password: string, clientId: string, topic: string }>
  readonly publisher: { username: string, password: string, clientId: string }
  stop (): Promise<void>
}

async function startPrintmq (dir: string, subscribers: number): Promise<Target> {
  const { child, line } = await spawnWithJsonLine('processes/printmq-broker.ts', {
    BENCH_AGENTS: String(subscribers), BENCH_DATA_DIR: join(dir, 'printmq'), BENCH_LICENSES_FILE: join(dir, 'licenses.json'), BENCH_SERVICE_PASSWORD: 'bench-service'
  })
  const keys = JSON.parse(await readFile(join(dir, 'licenses.json'), 'utf8')) as string[]
  const logins = keys.map((key, i) => {
    const ref = { tenant: 'bench', branch: 'b1', agent: `a${i}` }
    return { ...agentMqttIdentity(ref), password: key, topic: agentTopic(ref, 'jobs') }
  })
  return {
    name: 'printmq',
    url: `mqtt://127.0.0.1:${line.port as number}`,
    pid: child.pid as number,
    logins,
    publisher: { username: 'printmq-service', password: 'bench-service', clientId: 'printmq.bench' },
    stop: async () => { await terminate(child) }
  }
}

/** A bare Aedes (no auth, no ACL): the reference for what printmq's layers cost. */
async function startBareAedes (_dir: string, subscribers: number): Promise<Target> {
  const { child, line } = await spawnWithJsonLine('processes/bare-aedes.ts', {})
  const logins = Array.from({ length: subscribers }, (_, i) => {
    const ref = { tenant: 'bench', branch: 'b1', agent: `a${i}` }
    return { username: `a${i}`, password: 'x', clientId: `a${i}`, topic: agentTopic(ref, 'jobs') }
  })
  return {
    name: 'aedes',
    url: `mqtt://127.0.0.1:${line.port as number}`,
    pid: child.pid as number,
    logins,
    publisher: { username: 'server', password: 'x', clientId: 'server' },
    stop: async () => { await terminate(child) }
  }
}

async function startMosquitto (dir: string, subscribers: number): Promise<Target> {
  const port = await freePort()
  const passwords = join(dir, 'mosquitto.passwd')
  const acl = join(dir, 'mosquitto.acl')
  const logins = Array.from({ length: subscribers }, (_, i) => {
    const ref = { tenant: 'bench', branch: 'b1', agent: `a${i}` }
    return { username: `a${i}`, password: `secret-${i}`, clientId: `a${i}`, topic: agentTopic(ref, 'jobs') }
  })
  await writeFile(passwords, [...logins.map((l) => `${l.username}:${l.password}`), 'server:bench-service'].join('\n') + '\n')
  const hashed = spawnSync('mosquitto_passwd', ['-U', passwords])
  if (hashed.status !== 0) throw new Error(`mosquitto_passwd failed: ${hashed.stderr.toString()}`)
  await writeFile(acl, 'user server\ntopic write printmq/v1/#\n\npattern read printmq/v1/bench/b1/agents/%u/jobs\n')
  const conf = join(dir, 'mosquitto.conf')
  await writeFile(conf, [
    // Run as the current user: as root, Mosquitto would drop to a user that cannot read our temp dir.
    `user ${userInfo().username}`,
    `listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwords}`, `acl_file ${acl}`,
    'max_queued_messages 100000', 'persistence false', 'log_type error'
  ].join('\n') + '\n')
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createServer().listen(port, '127.0.0.1')
      socket.once('error', () => { resolve(true) })
      socket.once('listening', () => { socket.close(); resolve(false) })
    })
    if (ok) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    name: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid as number,
    logins,
    publisher: { username: 'server', password: 'bench-service', clientId: 'server' },
    stop: async () => { await terminate(child) }
  }
}

async function round1 (target: Target, options: Options): Promise<Record<string, unknown>> {
  const subs: LoadProcess[] = await Promise.all(Array.from({ length: options.subscriberProcesses }, forkLoad))
  const pubs: LoadProcess[] = await Promise.all(Array.from({ length: options.publisherProcesses }, forkLoad))
  try {
    const per = Math.ceil(target.logins.length / subs.length)
    await Promise.all(subs.map((p, i) => p.request({ type: 'subscribers', url: target.url, logins: target.logins.slice(i * per, (i + 1) * per) }, 'ready')))
    await Promise.all([...subs, ...pubs].map((p) => p.request({ type: 'report' }, 'report')))
    const cpuBefore = await cpuSeconds(target.pid)
    const started = Date.now()
    const published = await Promise.all(pubs.map((p, i) => p.request({
      type: 'publishers', url: target.url, login: { ...target.publisher, clientId: `${target.publisher.clientId}${i}` },
      topics: target.logins.map((l) => l.topic), connections: 4, window: options.window, durationMs: options.seconds * 1000, payloadBytes: 256
    }, 'published')))
    await new Promise((resolve) => setTimeout(resolve, 500))
    const elapsed = (Date.now() - started) / 1000
    const cpuAfter = await cpuSeconds(target.pid)
    const rss = await rssBytes(target.pid)
    const reports = await Promise.all([...subs, ...pubs].map((p) => p.request({ type: 'report' }, 'report')))
    const received = reports.reduce((sum, r) => sum + (r.received as number), 0)
    const latencies = reports.flatMap((r) => r.latencies as number[])
    const loadCpu = reports.map((r) => r.cpuSeconds as number)
    const saturated = loadCpu.some((c) => c / elapsed > 0.9)
    return {
      broker: target.name,
      published: published.reduce((sum, p) => sum + (p.published as number), 0),
      delivered: received,
      deliveredPerSecond: round(received / elapsed, 0),
      latencyP50Ms: round(percentile(latencies, 50), 2),
      latencyP99Ms: round(percentile(latencies, 99), 2),
      brokerCpuMicrosPerMessage: round(((cpuAfter - cpuBefore) / Math.max(1, received)) * 1e6, 1),
      brokerRssMiB: round(rss / 2 ** 20, 1),
      loadGeneratorSaturated: saturated
    }
  } finally {
    await stopLoad([...subs, ...pubs])
  }
}

/** Run the scenario and print its results. */
export async function run (args: Record<string, string>): Promise<void> {
  const options: Options = {
    subscribers: Number(args.subscribers ?? 1000),
    seconds: Number(args.seconds ?? 10),
    rounds: Number(args.rounds ?? 2),
    subscriberProcesses: 2,
    publisherProcesses: 2,
    window: Number(args.window ?? 64),
    // `--brokers printmq,mosquitto,aedes` adds a bare Aedes row (no auth, no ACL).
    brokers: (args.brokers ?? 'printmq,mosquitto').split(',')
  }
  const starters: Record<string, typeof startPrintmq> = { printmq: startPrintmq, mosquitto: startMosquitto, aedes: startBareAedes }
  const dir = await mkdtemp(join(tmpdir(), 'printmq-bench-'))
  const rows: Array<Record<string, unknown>> = []
  try {
    for (let r = 0; r < options.rounds; r++) {
      for (const name of options.brokers) {
        const start = starters[name]
        if (start === undefined) throw new Error(`unknown broker ${name}; known: ${Object.keys(starters).join(', ')}`)
        const target = await start(dir, options.subscribers)
        try {
          rows.push({ round: r + 1, ...(await round1(target, options)) })
        } finally {
          await target.stop()
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const mean = (name: string, key: string): number => {
    const values = rows.filter((row) => row.broker === name).map((row) => row[key] as number)
    return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
  }
  const ratio = round(mean('printmq', 'deliveredPerSecond') / Math.max(1, mean('mosquitto', 'deliveredPerSecond')), 2)
  const has = (name: string): boolean => options.brokers.includes(name)
  report('broker-routing', {
    options,
    printmqDeliveredPerSecond: round(mean('printmq', 'deliveredPerSecond'), 0),
    mosquittoDeliveredPerSecond: round(mean('mosquitto', 'deliveredPerSecond'), 0),
    throughputRatio: has('printmq') && has('mosquitto') ? ratio : null,
    ...(has('aedes') && has('mosquitto') ? { bareAedesRatio: round(mean('aedes', 'deliveredPerSecond') / Math.max(1, mean('mosquitto', 'deliveredPerSecond')), 2) } : {}),
    ...(has('aedes') && has('printmq') ? { printmqCpuOverBareAedes: round(mean('printmq', 'brokerCpuMicrosPerMessage') / Math.max(1e-9, mean('aedes', 'brokerCpuMicrosPerMessage')), 2) } : {}),
    loadGeneratorSaturated: rows.some((row) => row.loadGeneratorSaturated === true),
    rounds: rows
  }, rows)
  if (rows.some((row) => row.loadGeneratorSaturated === true)) console.log('note: a load-generator process used over 90% of a core; figures may be limited by the generator')
}
