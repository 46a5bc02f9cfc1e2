/**
 * `POST .../test-print` over real sockets: the server, an agent and a virtual printer
 * on 127.0.0.1 port 0; the page names the printer, the agent and the time.
 */
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { provision, startTestServer } from '../helpers/server.js'

const server = await startTestServer(t)
const printer = new VirtualPrinter()
await printer.start()
t.teardown(() => printer.stop())
const { licenseKey } = await provision(server, 'acme', { branch: 'tp', agent: 'bar-pi', printer: 'bar', printerPort: printer.port })
const agent = new Agent({ url: server.mqttUrl, licenseKey, stateDir: t.testdir(), logger: createLogger({ level: 'silent' }), statusTimeoutMs: 1000 })
t.teardown(() => agent.stop())
await agent.start()
await agent.waitUntilOnline()

t.test('a technician prints a test page naming the printer, its agent and the time', async (t) => {
  const technician = server.token('acme', 'technician')
  const started = new Date()
  const queued = await server.request('POST', '/v1/branches/tp/printers/bar/test-print', { token: technician })
  t.equal(queued.status, 202)
  t.match(queued.body, { branchId: 'tp', printerId: 'bar', agentId: 'bar-pi', reference: 'test-page' })
  t.equal(queued.headers.get('location'), `/v1/print-jobs/${queued.body.id as string}`)
  const done = await server.request('GET', `/v1/print-jobs/${queued.body.id as string}?wait=20`, { token: technician })
  t.equal(done.body.state, 'printed')
  const [ticket] = await printer.waitForTickets(1)
  t.match(ticket?.text, /printmq test page/)
  t.match(ticket?.text, /printer: bar/)
  t.match(ticket?.text, /agent: +bar-pi/)
  const time = /time: +(\S+)/.exec(ticket?.text ?? '')?.[1] ?? ''
  t.ok(Date.parse(time) >= started.getTime() - 1000, `the page carries the time (${time})`)
})

t.test('the short path takes the branch from the body, and refuses operators and unknown printers', async (t) => {
  const admin = server.token('acme', 'admin')
  const queued = await server.request('POST', '/v1/printers/bar/test-print', { token: admin, body: { branchId: 'tp' } })
  t.equal(queued.status, 202)
  t.equal(queued.body.printerId, 'bar')
  t.equal((await server.request('POST', '/v1/printers/bar/test-print', { token: admin, body: {} })).status, 400)
  t.equal((await server.request('POST', '/v1/printers/bar/test-print', { token: server.token('acme', 'operator'), body: { branchId: 'tp' } })).status, 403)
  t.equal((await server.request('POST', '/v1/printers/nope/test-print', { token: admin, body: { branchId: 'tp' } })).body.code, 'PRINTMQ_API_PRINTER_NOT_FOUND')
  t.equal((await server.request('POST', '/v1/printers/bar/test-print', { token: server.token('evil', 'admin'), body: { branchId: 'tp' } })).status, 404)
})
