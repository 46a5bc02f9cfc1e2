/**
 * A rolling restart nobody notices (issue 8): jobs are submitted at a steady rate while
 * each `printmq server` of the cluster in turn gets SIGTERM (drains and exits 0 within
 * the grace period) and is started again. The client acts like a load balancer: an
 * instance that refuses or drops a submission is retried at the next one with the same
 * Idempotency-Key. In the end every accepted job printed exactly once; the counts and the
 * longest submit-to-paper time are reported. Needs PRINTMQ_TEST_POSTGRES_URL and
 * PRINTMQ_TEST_REDIS_URL.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { TERMINAL_JOB_STATES } from '../../shared/job-states.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { CLUSTER_SKIP, startCluster, within, type Exit, type ServerProcess } from './helpers/cluster.js'

const INSTANCES = Number(process.env.PRINTMQ_ROLLING_INSTANCES ?? 2)
/** Jobs per second while the restart runs. */
const RATE = Number(process.env.PRINTMQ_ROLLING_RATE ?? 20)
const GRACE_SECONDS = 10
/** Time a submission may take, retries included, ms. */
const SUBMIT_DEADLINE_MS = 30_000
const SETTLE_TIMEOUT_MS = 60_000

t.test('a rolling restart under a steady stream of jobs', { skip: CLUSTER_SKIP }, async (t) => {
  const cluster = await startCluster(t, INSTANCES, { PRINTMQ_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) })
  const servers = cluster.servers
  const first = servers[0] as ServerProcess
  const admin = cluster.token('admin')
  const operator = cluster.token('operator')
  const printer = new VirtualPrinter({ commandSet: 'epson' })
  await printer.start()
  const stateDir = await mkdtemp(join(tmpdir(), 'printmq-rolling-agent-'))
  let agent: Agent | null = null
  t.teardown(async () => {
    await within(10_000, 'agent stop', agent?.stop() ?? Promise.resolve()).catch(() => {})
    await printer.stop()
    await rm(stateDir, { recursive: true, force: true })
  })
  const created = async (path: string, body: unknown): Promise<any> => {
    const response = await cluster.call(first, 'POST', path, admin, body)
    if (response.status !== 201) throw new Error(`${path}: ${response.status} ${JSON.stringify(response.body)}`)
    return response.body
  }
  await created('/v1/branches', { id: 'b1' })
  const { licenseKey } = await created('/v1/branches/b1/agents', { id: 'pi' })
  await created('/v1/branches/b1/printers', { id: 'p1', agentId: 'pi', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: printer.port } })
  agent = new Agent({
    url: first.mqttUrl,
    urls: servers.map((server) => server.mqttUrl),
    licenseKey: licenseKey as string,
    stateDir,
    logger: createLogger({ level: process.env.PRINTMQ_TEST_LOG_LEVEL ?? 'silent' }),
    statusIntervalMs: 0,
    statusTimeoutMs: 1000,
    backoff: { initialMs: 100, maxMs: 1000 }
  })
  await agent.start()
  await agent.waitUntilOnline(30_000)

  const submittedAt = new Map<number, number>()
  const printedAt = new Map<number, number>()
  const tickets = new Map<number, number>()
  printer.on('ticket', (ticket) => {
    for (const match of ticket.text.matchAll(/rolling-job-(\d+)\b/g)) {
      const n = Number(match[1])
      tickets.set(n, (tickets.get(n) ?? 0) + 1)
      if (!printedAt.has(n)) printedAt.set(n, Date.now())
    }
  })

  // The load balancer: instance i % n first, then the others, until one answers 202.
  const jobIds = new Map<number, Set<string>>()
  const failed: Array<{ i: number, why: string }> = []
  let retries = 0
  const submit = async (i: number): Promise<void> => {
    submittedAt.set(i, Date.now())
    const deadline = Date.now() + SUBMIT_DEADLINE_MS
    let why = ''
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const server = servers[(i + attempt) % servers.length] as ServerProcess
      try {
        const response = await cluster.call(server, 'POST', '/v1/print-jobs', operator, {
          branchId: 'b1', printerId: 'p1', content: { type: 'text', text: `rolling-job-${i}\n1x Soup` }
        }, { 'idempotency-key': `rolling-${i}` })
        if (response.status === 202) {
          jobIds.set(i, new Set([...(jobIds.get(i) ?? []), response.body.id as string]))
          return
        }
        why = `${server.name}: ${response.status}`
        if (response.status < 500 && response.status !== 409) break
      } catch (err) {
        why = `${server.name}: ${(err as Error).message}`
      }
      retries++
      await sleep(attempt < servers.length ? 0 : 200)
    }
    failed.push({ i, why })
  }

  let streaming = true
  const inFlight = new Set<Promise<void>>()
  const stream = (async () => {
    const started = Date.now()
    for (let i = 0; streaming; i++) {
      const submission = submit(i)
      inFlight.add(submission)
      void submission.finally(() => { inFlight.delete(submission) })
      // A steady rate: job i leaves at started + i / RATE seconds.
      const wait = started + ((i + 1) * 1000) / RATE - Date.now()
      if (wait > 0) await sleep(wait)
    }
  })()

  const exits: Array<{ server: string } & Exit> = []
  const restartStartedAt = Date.now()
  try {
    await sleep(2000)
    for (const server of servers) {
      exits.push({ server: server.name, ...await server.signal('SIGTERM', (GRACE_SECONDS + 10) * 1000) })
      await server.start()
      await sleep(2000)
    }
  } finally {
    streaming = false
    await stream
    await within(SUBMIT_DEADLINE_MS + 5000, 'last submissions', Promise.all([...inFlight]))
  }
  const restartMs = Date.now() - restartStartedAt

  // Every accepted job reaches a final state (bounded).
  const keys = [...jobIds.keys()]
  const states = new Map<number, string>()
  const settleBy = Date.now() + SETTLE_TIMEOUT_MS
  const pending = [...keys]
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = pending.shift(); i !== undefined; i = pending.shift()) {
      const jobId = [...(jobIds.get(i) ?? [])][0] as string
      for (;;) {
        const left = Math.max(0, Math.min(20, Math.floor((settleBy - Date.now()) / 1000)))
        const response = await cluster.call(servers[i % servers.length] as ServerProcess, 'GET', `/v1/print-jobs/${jobId}?wait=${left}`, operator).catch(() => null)
        if (response?.status === 200) states.set(i, response.body.state)
        if ((response?.status === 200 && TERMINAL_JOB_STATES.has(response.body.state)) || left === 0) break
      }
    }
  }))

  const printCount = (i: number): number => tickets.get(i) ?? 0
  const printedOnce = keys.filter((i) => printCount(i) === 1).length
  const printedTwice = keys.filter((i) => printCount(i) > 1)
  const lost = keys.filter((i) => printCount(i) === 0)
  const split = keys.filter((i) => (jobIds.get(i)?.size ?? 0) !== 1)
  const notPrinted = keys.filter((i) => states.get(i) !== 'printed')
  const latencies = keys.filter((i) => printedAt.has(i)).map((i) => (printedAt.get(i) as number) - (submittedAt.get(i) as number))
  const longestMs = Math.max(0, ...latencies)
  const sorted = [...latencies].sort((x, y) => x - y)
  const p50 = sorted[Math.floor(sorted.length / 2)] ?? 0
  const printTimes = [...printedAt.values()]
  const printRate = printTimes.length < 2 ? 0 : (printTimes.length - 1) / ((Math.max(...printTimes) - Math.min(...printTimes)) / 1000)
  t.comment(`rolling restart: ${JSON.stringify({
    instances: servers.length,
    ratePerSecond: RATE,
    restartSeconds: Math.round(restartMs / 100) / 10,
    submitted: submittedAt.size,
    accepted: keys.length,
    notAccepted: failed.length,
    retriedAttempts: retries,
    printedOnce,
    printedTwice: printedTwice.length,
    lost: lost.length,
    longestSubmitToPrintedMs: longestMs,
    medianSubmitToPrintedMs: p50,
    // The virtual printer's pace bounds the latency: below RATE, a queue builds up.
    printedPerSecond: Math.round(printRate * 10) / 10,
    exits: exits.map((e) => ({ server: e.server, code: e.code, signal: e.signal, drainMs: e.ms }))
  })}`)
  if (failed.length > 0 || lost.length > 0 || notPrinted.length > 0) {
    t.comment(`not accepted: ${JSON.stringify(failed.slice(0, 5))}; not printed: ${JSON.stringify(notPrinted.slice(0, 5).map((i) => ({ i, state: states.get(i) })))}`)
    for (const server of servers) t.comment(`server ${server.name} log:\n${await server.tail(15)}`)
  }

  for (const exit of exits) {
    t.equal(exit.code, 0, `server ${exit.server} exited 0 after SIGTERM`)
    t.ok(exit.ms < GRACE_SECONDS * 1000, `server ${exit.server} drained within the ${GRACE_SECONDS} s grace period (${exit.ms} ms)`)
  }
  t.ok(keys.length >= RATE * 5, `a steady stream was accepted (${keys.length} jobs)`)
  t.same(failed, [], 'every submission was accepted by some instance')
  t.same(split, [], 'every retry of a key named the same job')
  t.same(printedTwice, [], 'no job printed twice')
  t.same(lost, [], 'no accepted job lost')
  t.same(notPrinted, [], 'every accepted job is `printed`')
})
