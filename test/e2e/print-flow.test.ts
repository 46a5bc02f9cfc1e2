/**
 * A job from an HTTP request to paper over real sockets: the server (PGlite, embedded
 * broker), the agent and a virtual printer, each on 127.0.0.1 port 0.
 */
import t, { type Test } from 'tap'
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { capturingLogger } from '../helpers/log-capture.js'
import { testDatabases } from '../helpers/databases.js'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

const silent = createLogger({ level: 'silent' })

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const { logger, lines } = capturingLogger('debug')
    const server = await startTestServer(t, { logger, database: await database.create(t) })
    await suite(t, server, lines, database.name)
  })
}

async function startPrinter (t: Test): Promise<VirtualPrinter> {
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(() => printer.stop())
  return printer
}

async function startAgent (t: Test, server: TestServer, licenseKey: string, stateDir: string, agentLogger = silent): Promise<Agent> {
  const agent = new Agent({ url: server.mqttUrl, licenseKey, stateDir, logger: agentLogger, statusTimeoutMs: 1000 })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()
  return agent
}

async function submit (s: TestServer, tenant: string, body: Record<string, unknown>, correlationId?: string): Promise<{ id: string, correlationId: string }> {
  const response = await s.request('POST', '/v1/print-jobs', {
    token: s.token(tenant, 'operator'),
    body,
    ...(correlationId !== undefined ? { headers: { 'x-correlation-id': correlationId } } : {})
  })
  if (response.status !== 202) throw new Error(`submit: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

async function waitForState (s: TestServer, tenant: string, jobId: string): Promise<any> {
  const response = await s.request('GET', `/v1/print-jobs/${jobId}?wait=20`, { token: s.token(tenant, 'operator') })
  return response.body
}

async function suite (t: Test, server: TestServer, lines: Array<Record<string, unknown>>, databaseName: 'pglite' | 'postgres'): Promise<void> {
  t.test('metrics report the database pool on PostgreSQL only', async (t) => {
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text()
    const total = /printmq_db_pool_connections\{state="total"\} (\d+)/.exec(metrics)
    if (databaseName === 'postgres') t.ok(total !== null && Number(total[1]) >= 1, 'pool connections are reported')
    else t.equal(total, null, 'PGlite has no pool')
  })

  t.test('a job submitted over HTTP is printed with a cut and ends printed with one correlation id', async (t) => {
    const printer = await startPrinter(t)
    const { licenseKey } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: printer.port })
    const agentLog = capturingLogger('info')
    await startAgent(t, server, licenseKey, t.testdir(), agentLog.logger)

    const job = await submit(server, 'acme', { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'Table 12\n1x Burger' } }, 'pos-order-991')
    t.equal(job.correlationId, 'pos-order-991')
    const done = await waitForState(server, 'acme', job.id)
    t.equal(done.state, 'printed')
    t.same(done.result, { code: 200, detail: null })
    t.same(done.history.filter((e: any) => e.ignored === false).map((e: any) => e.state), ['queued', 'dispatched', 'accepted', 'printed'])
    t.ok(done.history.every((e: any) => e.correlationId === 'pos-order-991'), 'every event carries the correlation id')

    const [ticket] = await printer.waitForTickets(1)
    t.match(ticket?.text, /Table 12\n1x Burger/)
    t.ok(ticket?.bytes.includes(Buffer.from([0x1d, 0x56])), 'the ticket ends with a cut (GS V)')

    const about = (line: Record<string, unknown>): boolean => line.correlationId === 'pos-order-991'
    t.ok(lines.some((l) => about(l) && l.component === 'api'), 'api request log lines carry it')
    t.ok(lines.some((l) => about(l) && l.component === 'api.dispatcher' && l.msg === 'job dispatched'), 'dispatcher logs it')
    t.ok(lines.some((l) => about(l) && l.component === 'broker'), 'broker logs it')
    t.ok(agentLog.lines.some((l) => about(l) && l.msg === 'job printed'), 'the agent logs it when printed')
  })

  t.test('a job submitted before its agent starts is printed once the agent connects', async (t) => {
    const printer = await startPrinter(t)
    const { licenseKey } = await provision(server, 'acme', { branch: 'b2', agent: 'late', printer: 'p2', printerPort: printer.port })
    const job = await submit(server, 'acme', { branchId: 'b2', printerId: 'p2', content: { type: 'text', text: 'Submitted while offline' } })
    const before = await server.request('GET', `/v1/print-jobs/${job.id}`, { token: server.token('acme', 'operator') })
    t.ok(['queued', 'dispatched'].includes(before.body.state), `still waiting (${before.body.state as string})`)

    await startAgent(t, server, licenseKey, t.testdir())
    const done = await waitForState(server, 'acme', job.id)
    t.equal(done.state, 'printed')
    const [ticket] = await printer.waitForTickets(1)
    t.match(ticket?.text, /Submitted while offline/)
  })

  t.test('another tenant cannot see or print on this tenant printers', async (t) => {
    const printer = await startPrinter(t)
    await provision(server, 'acme', { branch: 'b4', agent: 'a4', printer: 'p4', printerPort: printer.port })
    const foreign = await server.request('POST', '/v1/print-jobs', {
      token: server.token('evil', 'operator'),
      body: { branchId: 'b4', printerId: 'p4', content: { type: 'text', text: 'x' } }
    })
    t.equal(foreign.status, 404)
    t.equal(printer.tickets.length, 0)
  })
}
