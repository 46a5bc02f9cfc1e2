/**
 * Cancel reaches the agent: a job the server already published may sit in the agent's
 * MQTT queue or printer queue, so canceling it sends a `job-cancel` the agent journals.
 * Real server, agent and virtual printer; the broker is an Aedes the test controls
 * (PRINTMQ_BROKER=off), so it can hold back an agent's `accepted` result (the server
 * then still sees the job `dispatched`, the state in which cancel is allowed) or a
 * message to the agent, as a slow network or a lost session would.
 */
import { createServer, type AddressInfo } from 'node:net'
import { Aedes, type AedesPublishPacket } from 'aedes'
import t, { type Test } from 'tap'
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { agentTopic } from '../../shared/topics.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { connectClient } from '../helpers/mqtt.js'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

/** Messages the broker does not forward; each is kept for the test to deliver later. */
const holds: Array<{ matches: (topic: string, message: Record<string, unknown>) => boolean, held: Buffer[] }> = []
const aedes = await Aedes.createBroker({
  authorizeForward: (_client, packet: AedesPublishPacket) => {
    let message: Record<string, unknown>
    try { message = JSON.parse(packet.payload.toString()) as Record<string, unknown> } catch { return packet }
    const hold = holds.find((h) => h.matches(packet.topic, message))
    if (hold === undefined) return packet
    hold.held.push(Buffer.from(packet.payload))
    return null
  }
})
const tcp = createServer(aedes.handle)
await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
t.teardown(async () => {
  await new Promise<void>((resolve) => tcp.close(() => { resolve() }))
  await new Promise<void>((resolve) => { aedes.close(() => { resolve() }) })
})
const brokerUrl = `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`
const server = await startTestServer(t, { env: { PRINTMQ_BROKER: 'off', PRINTMQ_MQTT_URL: brokerUrl } })
const operator = server.token('acme', 'operator')

/** Hold back matching messages until the returned hold is released. */
function hold (matches: (topic: string, message: Record<string, unknown>) => boolean): { held: Buffer[], release: () => void } {
  const entry = { matches, held: [] as Buffer[] }
  holds.push(entry)
  return { held: entry.held, release: () => { holds.splice(holds.indexOf(entry), 1) } }
}

const resultOf = (jobId: () => string, state: string) => (topic: string, m: Record<string, unknown>): boolean =>
  topic.endsWith('/results') && m.jobId === jobId() && m.state === state

async function setup (t: Test, branch: string): Promise<{ printer: VirtualPrinter, agent: () => Agent, restartAgent: () => Promise<void>, submit: (text: string) => Promise<string> }> {
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(() => printer.stop())
  const { licenseKey } = await provision(server, 'acme', { branch, agent: 'a1', printer: 'p1', printerPort: printer.port })
  const stateDir = t.testdir()
  const make = (): Agent => new Agent({ url: brokerUrl, licenseKey, stateDir, logger: createLogger({ level: 'silent' }), statusTimeoutMs: 1000, retry: { initialMs: 100, maxMs: 300 } })
  let agent = make()
  t.teardown(async () => { await agent.stop() })
  await agent.start()
  await agent.waitUntilOnline()
  return {
    printer,
    agent: () => agent,
    restartAgent: async () => {
      await agent.stop()
      agent = make()
      await agent.start()
      await agent.waitUntilOnline()
    },
    submit: async (text) => {
      const response = await server.request('POST', '/v1/print-jobs', { token: operator, body: { branchId: branch, printerId: 'p1', content: { type: 'text', text } } })
      if (response.status !== 202) throw new Error(`submit: ${response.status} ${JSON.stringify(response.body)}`)
      return response.body.id as string
    }
  }
}

/** Wait (bounded) until `check` holds. */
async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function job (s: TestServer, jobId: string): Promise<any> {
  return (await s.request('GET', `/v1/print-jobs/${jobId}`, { token: operator })).body
}

async function cancel (jobId: string): Promise<any> {
  return await server.request('POST', `/v1/print-jobs/${jobId}/cancel`, { token: operator })
}

const agentCanceled = (history: any[]): any[] => history.filter((e) => e.ignored === true && e.state === 'canceled')

t.test('a dispatched job waiting for paper in the agent is canceled there and never prints', async (t) => {
  const { printer, submit } = await setup(t, 'paper')
  printer.setStatus({ paperOut: true })
  let jobId = ''
  const accepted = hold(resultOf(() => jobId, 'accepted'))
  t.teardown(accepted.release)
  jobId = await submit('stale ticket waiting for paper')
  await until('the agent accepted the job', () => accepted.held.length > 0)
  t.equal((await job(server, jobId)).state, 'dispatched', 'the server has not heard the agent accepted it')

  const response = await cancel(jobId)
  t.equal(response.status, 200)
  t.equal(response.body.state, 'canceled')
  await until('the agent confirmed the cancel', async () => agentCanceled((await job(server, jobId)).history).length > 0)
  const confirmation = agentCanceled((await job(server, jobId)).history)[0]
  t.match(confirmation, { code: 540, detail: 'canceled before it printed' }, 'the history has the agent confirming it did not print')

  printer.setStatus({ paperOut: false })
  const next = await submit('next ticket')
  await until('the next job printed', async () => (await job(server, next)).state === 'printed')
  t.same(printer.tickets.map((ticket) => ticket.text.includes('stale ticket')), [false], 'only the next ticket came out')
  t.equal((await job(server, jobId)).state, 'canceled', 'the job stays canceled')
})

t.test('a job whose message arrives after its cancel is never printed', async (t) => {
  const { printer, submit } = await setup(t, 'late')
  let jobId = ''
  const delivery = hold((topic, m) => topic.endsWith('/jobs') && m.kind === 'print-job' && m.jobId === jobId)
  t.teardown(delivery.release)
  jobId = await submit('ticket overtaken by its cancel')
  await until('the server published the job', () => delivery.held.length > 0)
  await until('the broker acknowledged it', async () => (await job(server, jobId)).state === 'dispatched')

  t.equal((await cancel(jobId)).status, 200)
  await until('the agent confirmed the cancel', async () => agentCanceled((await job(server, jobId)).history).length > 0)

  // The job message arrives now, after its cancel.
  delivery.release()
  const observer = await connectClient(t, brokerUrl, { clientId: 'cancel-test-publisher', clean: true })
  await observer.publishAsync(agentTopic({ tenant: 'acme', branch: 'late', agent: 'a1' }, 'jobs'), delivery.held[0] as Buffer, { qos: 1 })
  await until('the agent answered the late job with its cancel', async () => agentCanceled((await job(server, jobId)).history).length > 1)

  const next = await submit('next ticket')
  await until('the next job printed', async () => (await job(server, next)).state === 'printed')
  t.same(printer.tickets.map((ticket) => ticket.text.includes('overtaken')), [false], 'only the next ticket came out')
})

t.test('a job that printed before its cancel arrived keeps the truth in its history', async (t) => {
  const { printer, submit } = await setup(t, 'printed')
  // Slow paper: the agent is still printing (or has just printed) when the cancel comes.
  printer.setStatus({ printDelayMs: 500 })
  let jobId = ''
  const results = hold((topic, m) => topic.endsWith('/results') && m.jobId === jobId)
  t.teardown(results.release)
  jobId = await submit('ticket printed before the cancel')
  await printer.waitForTickets(1, 15_000)
  t.equal((await job(server, jobId)).state, 'dispatched', 'the server has not heard from the agent')

  const response = await cancel(jobId)
  t.equal(response.status, 200, 'the server still thought it could cancel')
  results.release()
  const observer = await connectClient(t, brokerUrl, { clientId: 'cancel-test-replayer', clean: true })
  // Deliver what was held back (late, as a slow network would).
  for (const payload of results.held) await observer.publishAsync(agentTopic({ tenant: 'acme', branch: 'printed', agent: 'a1' }, 'results'), payload, { qos: 1 })
  await until('the printed result is in the history', async () => (await job(server, jobId)).history.some((e: any) => e.state === 'printed'))
  const final = await job(server, jobId)
  t.equal(final.state, 'canceled', 'the state stays canceled (final)')
  const printed = final.history.filter((e: any) => e.state === 'printed')
  t.ok(printed.length > 0 && printed.every((e: any) => e.ignored === true && e.detail === 'printed after cancel'), 'the agent\'s real result is recorded, ignored, as printed after cancel')
  t.equal(printer.tickets.length, 1, 'printed once')
})

t.test('a cancel lost on the way is sent again when the agent comes back', async (t) => {
  const { printer, submit, restartAgent } = await setup(t, 'resend')
  printer.setStatus({ paperOut: true })
  let jobId = ''
  const accepted = hold(resultOf(() => jobId, 'accepted'))
  // The first cancel message is lost for good: also the broker's own redelivery of it
  // from the agent's session. A cancel sent again is a new message (another id).
  let lostId: unknown = null
  const lost = hold((topic, m) => {
    if (!topic.endsWith('/jobs') || m.kind !== 'job-cancel' || m.jobId !== jobId) return false
    lostId ??= m.id
    return m.id === lostId
  })
  t.teardown(() => { accepted.release(); lost.release() })
  jobId = await submit('ticket whose cancel got lost')
  await until('the agent accepted the job', () => accepted.held.length > 0)
  t.equal((await cancel(jobId)).status, 200)
  await until('the cancel was sent', () => lost.held.length > 0)

  await restartAgent()
  await until('the agent confirmed the cancel sent again', async () => agentCanceled((await job(server, jobId)).history).length > 0)
  printer.setStatus({ paperOut: false })
  const next = await submit('next ticket')
  await until('the next job printed', async () => (await job(server, next)).state === 'printed')
  t.same(printer.tickets.map((ticket) => ticket.text.includes('got lost')), [false], 'only the next ticket came out')
})
