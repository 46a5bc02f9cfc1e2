import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from 'aedes'
import { Agent, type AgentOptions } from '../../agent/agent.js'
import { createTransportFactory, type TransportFactory } from '../../agent/printers/transport.js'
import { createLicenseKey } from '../../shared/license.js'
import { newId } from '../../shared/ids.js'
import { decodeMessage } from '../../shared/messages.js'
import { agentTopic, printerStatusTopic } from '../../shared/topics.js'
import { PRINTMQ_VERSION } from '../../shared/version.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { connectObserver, printJob, startBroker, tcpPrinter, testLogger } from './helpers/mqtt-fixture.js'

const ref = { tenant: 'acme', branch: 'downtown', agent: 'counter' }

interface Setup {
  readonly url: string
  readonly licenseKey: string
  readonly stateDir: string
  readonly printer: VirtualPrinter
}

async function setup (t: Test): Promise<Setup> {
  const { url } = await startBroker(t)
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(() => printer.stop())
  return { url, licenseKey: createLicenseKey(ref), stateDir: t.testdir(), printer }
}

async function startAgent (t: Test, s: Setup, options: Partial<AgentOptions> = {}): Promise<Agent> {
  const agent = new Agent({ url: s.url, licenseKey: s.licenseKey, stateDir: s.stateDir, logger: testLogger(), statusTimeoutMs: 500, statusIntervalMs: 0, ...options })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()
  return agent
}

t.test('the agent prints a job and reports accepted then printed with its correlation id', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const job = printJob({ text: 'Table 4\n2x Soup\n1x Bread' })
  await observer.publishJob(job.payload)

  const printed = await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  const [ticket] = await s.printer.waitForTickets(1)
  t.match(ticket?.text, /Table 4\n2x Soup\n1x Bread\n/)
  t.ok(ticket?.bytes.includes(Buffer.from([0x1d, 0x56, 0x00])), 'the ticket ends in a cut')
  t.same(observer.resultsOf(job.jobId).map((r) => [r.state, r.code]), [['accepted', 202], ['printed', 200]])
  t.equal(printed.correlationId, job.correlationId)
  t.ok(observer.resultsOf(job.jobId).every((r) => r.correlationId === job.correlationId))
  t.equal(printed.replay, undefined)
})

t.test('the agent prints each copy as its own cut ticket', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const job = printJob({ copies: 3, text: 'copy me' })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  const tickets = await s.printer.waitForTickets(3)
  t.same(tickets.map((ticket) => ticket.text.trim()), ['copy me', 'copy me', 'copy me'])
})

t.test('a job id delivered again is not printed again and its result is replayed', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  const first = await startAgent(t, s)
  const job = printJob()
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')

  await observer.publishJob(job.payload)
  const replay = await observer.waitForResult((r) => r.jobId === job.jobId && r.replay === true)
  t.equal(replay.state, 'printed')
  t.equal(replay.correlationId, job.correlationId)

  await first.stop()
  await startAgent(t, s)
  const before = observer.resultsOf(job.jobId).length
  await observer.publishJob(job.payload)
  const afterRestart = await observer.waitFor(() => observer.resultsOf(job.jobId).slice(before).find((r) => r.replay === true))
  t.equal(afterRestart.state, 'printed', 'the journal on disk remembers the outcome')
  t.equal(s.printer.tickets.length, 1, 'printed exactly once across redeliveries and a restart')
})

t.test('an expired job is reported expired and not printed', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const stale = printJob({ ttlMs: -1000 })
  await observer.publishJob(stale.payload)
  const result = await observer.waitForResult((r) => r.jobId === stale.jobId)
  t.equal(result.state, 'expired')
  t.equal(result.code, 520)
  // A later job on the same printer queue proves the stale one never reached the printer.
  const fresh = printJob({ text: 'fresh' })
  await observer.publishJob(fresh.payload)
  await observer.waitForResult((r) => r.jobId === fresh.jobId && r.state === 'printed')
  t.same(s.printer.tickets.map((ticket) => ticket.text.trim()), ['fresh'])
})

t.test('a job published while the agent is offline is printed once it connects', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  const first = await startAgent(t, s)
  await first.stop()

  const job = printJob({ text: 'queued while away' })
  await observer.publishJob(job.payload)
  t.equal(s.printer.tickets.length, 0)
  await startAgent(t, s)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  const [ticket] = await s.printer.waitForTickets(1)
  t.match(ticket?.text, /queued while away/)
})

t.test('a job that arrives before any config waits for the config', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await startAgent(t, s)
  const job = printJob({ text: 'early bird' })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'accepted')
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  t.equal(s.printer.tickets.length, 1)
})

t.test('a job for a printer the config does not name fails with 440', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const job = printJob({ printerId: 'bar' })
  await observer.publishJob(job.payload)
  const result = await observer.waitForResult((r) => r.jobId === job.jobId && r.state !== 'accepted')
  t.same([result.state, result.code], ['failed', 440])
})

t.test('a job waits at most configWaitMs for a config that never comes', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await startAgent(t, s, { configWaitMs: 200 })
  const job = printJob()
  await observer.publishJob(job.payload)
  const result = await observer.waitForResult((r) => r.jobId === job.jobId && r.state !== 'accepted')
  t.same([result.state, result.code], ['failed', 440])
})

t.test('a job for a printer out of paper waits, then prints once paper is back', async (t) => {
  const s = await setup(t)
  s.printer.setStatus({ paperOut: true })
  const statusTopic = printerStatusTopic({ tenant: ref.tenant, branch: ref.branch, printer: 'kitchen' })
  const observer = await connectObserver(t, s.url, ref, [statusTopic])
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s, { retry: { initialMs: 20, maxMs: 50 } })
  const job = printJob({ text: 'waited for paper' })
  await observer.publishJob(job.payload)
  const status = await observer.waitFor(() => observer.messagesOn(statusTopic, 'printer-status').find((m) => m.state === 'paper-out'))
  t.equal(status.printerId, 'kitchen')
  t.equal(s.printer.tickets.length, 0)
  t.same(observer.resultsOf(job.jobId).map((r) => r.state), ['accepted'], 'the job neither failed nor printed while paper was out')
  s.printer.setStatus({ paperOut: false })
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  t.match(s.printer.tickets.map((ticket) => ticket.text), [/waited for paper/])
  await observer.waitFor(() => observer.messagesOn(statusTopic, 'printer-status').find((m) => m.state === 'ready'))
})

t.test('a job for a printer out of paper expires if paper does not come back in time', async (t) => {
  const s = await setup(t)
  s.printer.setStatus({ paperOut: true })
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s, { retry: { initialMs: 20, maxMs: 50 } })
  const job = printJob({ ttlMs: 400 })
  await observer.publishJob(job.payload)
  const result = await observer.waitForResult((r) => r.jobId === job.jobId && r.state !== 'accepted')
  t.same([result.state, result.code], ['expired', 520])
  t.match(result.detail, /while the printer was paper-out/)
  t.equal(s.printer.tickets.length, 0)
})

t.test('paper running out during a job fails it with 410 after the post-job check', async (t) => {
  const s = await setup(t)
  s.printer.setStatus({ paperLeft: 1 })
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const job = printJob({ text: 'last of the roll' })
  await observer.publishJob(job.payload)
  const result = await observer.waitForResult((r) => r.jobId === job.jobId && r.state !== 'accepted')
  t.same([result.state, result.code], ['failed', 410])
  t.equal(s.printer.tickets.length, 1, 'the ticket went out before the paper ran out')
})

t.test('jobs queued for one printer print over one connection, checking the status once between tickets', async (t) => {
  const s = await setup(t)
  s.printer.setStatus({ paperOut: true })
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s, { retry: { initialMs: 50, maxMs: 50 } })
  const jobs = Array.from({ length: 5 }, (_, i) => printJob({ text: `ticket ${i + 1}` }))
  for (const job of jobs) await observer.publishJob(job.payload)
  await observer.waitFor(() => jobs.every((job) => observer.resultsOf(job.jobId).length > 0) ? true : undefined)
  // All five wait behind the first, which retries while the paper is out.
  const connectionsBefore = s.printer.connectionsAccepted
  const requestsBefore = s.printer.statusRequests
  s.printer.setStatus({ paperOut: false })
  for (const job of jobs) await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  t.same(s.printer.tickets.map((ticket) => ticket.text.trim()), jobs.map((_, i) => `ticket ${i + 1}`), 'in order')
  // One connection for the five (two if a retry was connecting when the paper came back);
  // one connection each would be five.
  t.ok(s.printer.connectionsAccepted - connectionsBefore <= 2, `${s.printer.connectionsAccepted - connectionsBefore} connections`)
  // Three requests per check: before the first ticket and after each (18), plus one
  // check of a retry in progress; a check before every ticket too would be 30.
  t.ok(s.printer.statusRequests - requestsBefore <= 21, `${s.printer.statusRequests - requestsBefore} status requests`)
  // Nothing comes after the last ticket: its connection is closed once the hold time is over.
  while (s.printer.openConnections > 0) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(s.printer.openConnections, 0)
})

t.test('a held connection that stopped answering is replaced by a new one, and the job prints without waiting', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  // Connections that went deaf: status requests get no answer, as from a printer that
  // dropped the connection without a word.
  const made: Array<{ deaf: boolean }> = []
  const tcp = createTransportFactory()
  const transports: TransportFactory = (connection) => {
    const inner = tcp(connection)
    const state = { deaf: false }
    made.push(state)
    const silence = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
    return {
      get address () { return inner.address },
      get isOpen () { return inner.isOpen },
      open: async () => { await inner.open() },
      write: async (data) => { await inner.write(data) },
      close: async () => { await inner.close() },
      requestStatus: async (n, ms) => state.deaf ? await silence(ms).then(() => null) : await inner.requestStatus(n, ms),
      requestStatuses: async (requests, ms) => state.deaf ? await silence(ms).then(() => requests.map(() => null)) : await inner.requestStatuses(requests, ms)
    }
  }
  // A retry an hour away: the job prints only if it does not wait.
  await startAgent(t, s, { transports, printerHoldMs: 30_000, statusTimeoutMs: 100, retry: { initialMs: 3_600_000, maxMs: 3_600_000 } })
  const first = printJob({ text: 'first' })
  await observer.publishJob(first.payload)
  await observer.waitForResult((r) => r.jobId === first.jobId && r.state === 'printed')
  t.equal(made.length, 1)
  made[0]!.deaf = true
  // Past the 500 ms in which the check after the first ticket stands in for the next one's.
  await new Promise((resolve) => setTimeout(resolve, 700))
  const second = printJob({ text: 'second' })
  await observer.publishJob(second.payload)
  await observer.waitForResult((r) => r.jobId === second.jobId && r.state === 'printed')
  t.equal(made.length, 2, 'a new connection for the second job')
  t.same(s.printer.tickets.map((ticket) => ticket.text.trim()), ['first', 'second'])
})

t.test('a printer with its cover open holds its jobs and a printer in error fails them with 430', async (t) => {
  const s = await setup(t)
  s.printer.setStatus({ coverOpen: true })
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s, { retry: { initialMs: 20, maxMs: 50 } })
  const held = printJob({ ttlMs: 300 })
  await observer.publishJob(held.payload)
  t.equal((await observer.waitForResult((r) => r.jobId === held.jobId && r.state !== 'accepted')).state, 'expired')
  s.printer.setStatus({ coverOpen: false, error: true })
  const broken = printJob()
  await observer.publishJob(broken.payload)
  const result = await observer.waitForResult((r) => r.jobId === broken.jobId && r.state !== 'accepted')
  t.same([result.state, result.code], ['failed', 430])
})

t.test('a silent printer is reported offline after three missed answers and its job prints when it answers again', async (t) => {
  const s = await setup(t)
  s.printer.setStatus({ silent: true })
  const statusTopic = printerStatusTopic({ tenant: ref.tenant, branch: ref.branch, printer: 'kitchen' })
  const observer = await connectObserver(t, s.url, ref, [statusTopic])
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s, { statusTimeoutMs: 50, retry: { initialMs: 10, maxMs: 20 } })
  const job = printJob({ text: 'after the silence' })
  await observer.publishJob(job.payload)
  await observer.waitFor(() => observer.messagesOn(statusTopic, 'printer-status').find((m) => m.state === 'offline'))
  t.same(observer.messagesOn(statusTopic, 'printer-status').map((m) => m.state), ['unknown', 'offline'], 'unknown until the third miss, then offline')
  t.ok(s.printer.statusRequests >= 3)
  s.printer.setStatus({ silent: false })
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  t.equal(s.printer.tickets.length, 1)
})

t.test('the idle status poll reports a printer running out of paper between jobs', async (t) => {
  const s = await setup(t)
  const statusTopic = printerStatusTopic({ tenant: ref.tenant, branch: ref.branch, printer: 'kitchen' })
  const observer = await connectObserver(t, s.url, ref, [statusTopic])
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s, { statusIntervalMs: 30 })
  await observer.waitFor(() => observer.messagesOn(statusTopic, 'printer-status').find((m) => m.state === 'ready'))
  s.printer.setStatus({ paperNearEnd: true })
  await observer.waitFor(() => observer.messagesOn(statusTopic, 'printer-status').find((m) => m.state === 'paper-low'))
  s.printer.setStatus({ paperOut: true })
  await observer.waitFor(() => observer.messagesOn(statusTopic, 'printer-status').find((m) => m.state === 'paper-out'))
  t.equal(s.printer.tickets.length, 0, 'polling prints nothing')
})

t.test('an invalid job that names its job id is reported failed with 510', async (t) => {
  const s = await setup(t)
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const jobId = newId()
  const bad = { v: 1, kind: 'print-job', id: newId(), correlationId: 'order-7', sentAt: new Date().toISOString(), jobId, printerId: 'kitchen', content: { type: 'pdf' }, copies: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() }
  await observer.publishJob(Buffer.from(JSON.stringify(bad)))
  const result = await observer.waitForResult((r) => r.jobId === jobId)
  t.same([result.state, result.code, result.correlationId], ['failed', 510, 'order-7'])
})

t.test('a job cut off mid-print by a crash is reported unconfirmed and not printed', async (t) => {
  const s = await setup(t)
  const job = printJob()
  const message = decodeMessage('print-job', job.payload)
  const at = new Date().toISOString()
  await writeFile(join(s.stateDir, 'journal.jsonl'), [
    JSON.stringify({ t: 'accepted', at, jobId: job.jobId, printerId: 'kitchen', correlationId: job.correlationId, job: message }),
    JSON.stringify({ t: 'printing', at, jobId: job.jobId })
  ].join('\n') + '\n')
  const observer = await connectObserver(t, s.url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port)])
  await startAgent(t, s)
  const result = await observer.waitForResult((r) => r.jobId === job.jobId)
  t.same([result.state, result.code, result.correlationId], ['unconfirmed', 530, job.correlationId])
  t.equal(s.printer.tickets.length, 0)
})

t.test('the agent publishes retained online health and says offline when it stops', async (t) => {
  const s = await setup(t)
  const healthTopic = agentTopic(ref, 'health')
  const observer = await connectObserver(t, s.url, ref, [healthTopic])
  const agent = await startAgent(t, s)
  const online = await observer.waitFor(() => observer.messagesOn(healthTopic, 'agent-health').find((h) => h.online))
  t.equal(online.version, PRINTMQ_VERSION)
  await agent.stop()
  const offline = await observer.waitFor(() => observer.messagesOn(healthTopic, 'agent-health').find((h) => !h.online))
  t.equal(offline.sessionId, online.sessionId, 'the goodbye names the same session')
})

t.test('the agent health carries round-trip time, memory, load and queue depths', async (t) => {
  const s = await setup(t)
  const healthTopic = agentTopic(ref, 'health')
  const observer = await connectObserver(t, s.url, ref, [healthTopic])
  await observer.publishConfig([tcpPrinter('kitchen', s.printer.port), tcpPrinter('bar', s.printer.port)])
  await startAgent(t, s, { healthIntervalMs: 30 })
  const health = await observer.waitFor(() => observer.messagesOn(healthTopic, 'agent-health').find((h) => h.rttMs !== undefined && h.printers?.length === 2))
  t.ok((health.rttMs ?? -1) >= 0, 'measured from PUBACKs')
  t.ok((health.rssBytes ?? 0) > 0)
  t.ok((health.heapUsedBytes ?? 0) > 0)
  t.type(health.loadAverage, 'number')
  t.equal(health.reconnects, 0)
  t.same(health.printers, [{ id: 'kitchen', queueDepth: 0 }, { id: 'bar', queueDepth: 0 }])
})

t.test('the agent reconnects with a new session after the broker drops it and keeps printing', async (t) => {
  const { url, broker } = await startBroker(t)
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(() => printer.stop())
  const s = { url, licenseKey: createLicenseKey(ref), stateDir: t.testdir(), printer }
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', printer.port)])
  const clientId = `agent.${ref.tenant}.${ref.branch}.${ref.agent}`
  let agentConnection: Client | undefined
  broker.on('client', (client) => { if (client.id === clientId) agentConnection = client })
  const agent = await startAgent(t, s, { backoff: { initialMs: 20, maxMs: 100 } })
  const sessions: string[] = []
  agent.on('online', ({ sessionId }) => { sessions.push(sessionId) })
  const reconnected = new Promise<void>((resolve) => { agent.once('online', () => { resolve() }) })
  t.ok(agentConnection, 'the broker saw the agent connect')
  agentConnection?.close()
  await reconnected
  t.equal(sessions.length, 1)
  const job = printJob({ text: 'after reconnect' })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  t.equal(printer.tickets.length, 1)
})
