/**
 * At-least-once on the wire, exactly once on paper: the server runs against an external
 * broker the test controls (PRINTMQ_BROKER=off), so the test can deliver the very same
 * job message again, as a broker or a server resend would.
 */
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { agentTopic } from '../../shared/topics.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { collectMessages, connectClient } from '../helpers/mqtt.js'
import { provision, startTestServer } from '../helpers/server.js'

const aedes = await Aedes.createBroker()
const tcp = createServer(aedes.handle)
await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
t.teardown(async () => {
  await new Promise<void>((resolve) => tcp.close(() => { resolve() }))
  await new Promise<void>((resolve) => { aedes.close(() => { resolve() }) })
})
const brokerUrl = `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`
const server = await startTestServer(t, { env: { PRINTMQ_BROKER: 'off', PRINTMQ_MQTT_URL: brokerUrl } })

t.test('a job id delivered again is not printed again and its result is replayed', async (t) => {
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(() => printer.stop())
  const { licenseKey } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: printer.port })
  const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
  const observer = await connectClient(t, brokerUrl, { clientId: 'observer', clean: true })
  const seen = collectMessages(observer)
  await observer.subscribeAsync(agentTopic(ref, 'jobs'), { qos: 1 })

  const agent = new Agent({ url: brokerUrl, licenseKey, stateDir: t.testdir(), logger: createLogger({ level: 'silent' }), statusTimeoutMs: 1000 })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()

  const operator = server.token('acme', 'operator')
  const submitted = await server.request('POST', '/v1/print-jobs', { token: operator, body: { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'Exactly once' } } })
  const printed = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=20`, { token: operator })
  t.equal(printed.body.state, 'printed')
  await printer.waitForTickets(1)

  const original = seen.find((m) => JSON.parse(m.payload.toString()).jobId === submitted.body.id)
  t.ok(original, 'the observer saw the job message')
  await observer.publishAsync(agentTopic(ref, 'jobs'), original?.payload ?? Buffer.alloc(0), { qos: 1 })

  let history: Array<{ state: string, ignored: boolean }> = []
  const deadline = Date.now() + 10_000
  while (!history.some((e) => e.ignored) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    history = (await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}`, { token: operator })).body.history
  }
  t.ok(history.some((e) => e.ignored && e.state === 'printed'), 'the replayed result reached the server and was recorded as ignored')
  t.equal(printer.tickets.length, 1, 'printed exactly once')
  const final = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}`, { token: operator })
  t.equal(final.body.state, 'printed', 'the job stays printed')
})
