/**
 * Printer discovery end to end (issue 6) over real sockets: the server (PGlite, and
 * PostgreSQL when configured), a real agent, virtual printers, a closed port and a port
 * that accepts but never answers, all on 127.0.0.1. The agent's serial lister is
 * injected (this machine has no printers on serial ports); TCP probes are real.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Agent } from '../../agent/agent.js'
import { newId } from '../../shared/ids.js'
import { createLogger } from '../../shared/logger.js'
import { decodeMessage, encodeMessage, type DiscoveryRequestMessage } from '../../shared/messages.js'
import { agentTopic } from '../../shared/topics.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { testDatabases } from '../helpers/databases.js'
import { connectFakeAgent, type FakeAgent } from '../helpers/fake-agent.js'
import { capturingLogger } from '../helpers/log-capture.js'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

const silent = createLogger({ level: 'silent' })

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const { logger, lines } = capturingLogger('debug')
    const server = await startTestServer(t, { logger, database: await database.create(t) })
    await suite(t, server, lines)
  })
}

async function startPrinter (t: Test, status: ConstructorParameters<typeof VirtualPrinter>[0] = {}): Promise<VirtualPrinter> {
  const printer = new VirtualPrinter(status)
  await printer.start()
  t.teardown(() => printer.stop())
  return printer
}

/** A port that accepts connections and never says anything. */
async function startSilentPort (t: Test): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => { sockets.delete(socket) })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  return (server.address() as AddressInfo).port
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

/** Until the server's view of the agent (its health) is online; fails after 10 s. */
async function untilOnlineAtServer (server: TestServer, tenant: string, branch: string, agent: string): Promise<void> {
  const token = server.token(tenant, 'admin')
  for (let i = 0; i < 200; i++) {
    const health = await server.request('GET', `/v1/branches/${branch}/health`, { token })
    if (health.body.agents?.some((a: { id: string, state: string }) => a.id === agent && a.state === 'online') === true) return
    await sleep(50)
  }
  throw new Error(`agent ${agent} never online at the server`)
}

/** Until the captured server log has a line matching `match`; fails after 10 s. */
async function untilLogLine (lines: Array<Record<string, unknown>>, match: (line: Record<string, unknown>) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (lines.some(match)) return
    await sleep(50)
  }
  throw new Error('log line never written')
}

function discoveryPath (branch: string, agent: string, id?: string): string {
  return `/v1/branches/${branch}/agents/${agent}/discovery${id !== undefined ? `/${id}` : ''}`
}

async function suite (t: Test, server: TestServer, lines: Array<Record<string, unknown>>): Promise<void> {
  const ready = await startPrinter(t)
  const paperOut = await startPrinter(t, { status: { paperOut: true } })
  const closed = await closedPort()
  const silentPort = await startSilentPort(t)
  const { licenseKey, adminToken } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: ready.port })
  const base = t.testdir()
  const dev = join(base, 'dev')
  await mkdir(join(dev, 'usb'), { recursive: true })
  await writeFile(join(dev, 'usb', 'lp0'), '')
  const agent = new Agent({
    url: server.mqttUrl,
    licenseKey,
    stateDir: join(base, 'state'),
    logger: silent,
    statusIntervalMs: 0,
    discovery: {
      serial: {
        // As serialport lists a USB-serial adapter; the usblp device file comes from the real scan of `dev`.
        list: async () => [{ path: '/dev/ttyUSB0', manufacturer: 'EPSON', vendorId: '04b8', productId: '0202', pnpId: 'usb-EPSON_TM-T88V-if00' }],
        accessCheck: async () => null,
        devDir: dev
      }
    }
  })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()
  await untilOnlineAtServer(server, 'acme', 'b1', 'a1')

  t.test('discovery finds the virtual printers with their status, and reports the closed and the silent port as no printer', async (t) => {
    const ports = [ready.port, paperOut.port, closed, silentPort]
    const asked = await server.request('POST', discoveryPath('b1', 'a1'), {
      token: adminToken,
      headers: { 'x-correlation-id': 'find-printers-1' },
      body: { tcp: { hosts: ['127.0.0.1'], ports }, timeoutMs: 500 }
    })
    t.equal(asked.status, 202, JSON.stringify(asked.body))
    t.match(asked.body, { branchId: 'b1', agentId: 'a1', state: 'pending', report: null, correlationId: 'find-printers-1', requestedBy: 'test-admin', completedAt: null })
    t.same(asked.body.request, { serial: true, tcp: { hosts: ['127.0.0.1'], ports }, timeoutMs: 500 }, 'serial is on by default')
    t.equal(asked.headers.get('location'), discoveryPath('b1', 'a1', asked.body.id))
    t.ok(Date.parse(asked.body.expiresAt) > Date.parse(asked.body.createdAt))

    const done = await server.request('GET', `${discoveryPath('b1', 'a1', asked.body.id)}?wait=30`, { token: adminToken })
    t.equal(done.status, 200)
    t.equal(done.body.state, 'completed')
    t.ok(done.body.completedAt !== null)
    t.same(done.body.report.tcp, [
      { host: '127.0.0.1', port: ready.port, reachable: true, statusAnswered: true, state: 'ready', registeredAs: 'p1' },
      { host: '127.0.0.1', port: paperOut.port, reachable: true, statusAnswered: true, state: 'paper-out', registeredAs: null },
      { host: '127.0.0.1', port: closed, reachable: false, statusAnswered: false, detail: done.body.report.tcp[2]?.detail, registeredAs: null },
      { host: '127.0.0.1', port: silentPort, reachable: true, statusAnswered: false, detail: 'connected; no answer to DLE EOT 1 within 500 ms', registeredAs: null }
    ], 'the printer registered already is named')
    t.match(done.body.report.tcp[2].detail, /ECONNREFUSED/)
    t.same(done.body.report.serial, {
      method: 'list',
      ports: [
        { path: '/dev/ttyUSB0', type: 'serial', manufacturer: 'EPSON', vendorId: '04b8', productId: '0202', pnpId: 'usb-EPSON_TM-T88V-if00', accessible: true, registeredAs: null },
        { path: join(dev, 'usb', 'lp0'), type: 'device', accessible: true, registeredAs: null }
      ]
    })
    t.ok(Number.isInteger(done.body.report.durationMs))
    t.equal(ready.tickets.length + paperOut.tickets.length, 0, 'probing printed nothing')

    // What was found is registered like any printer.
    const found = done.body.report.tcp.find((r: { state?: string }) => r.state === 'paper-out')
    const registered = await server.request('POST', '/v1/branches/b1/printers', {
      token: adminToken,
      body: { id: 'found-1', agentId: 'a1', model: 'epson', connection: { type: 'tcp', host: found.host, port: found.port } }
    })
    t.equal(registered.status, 201)
    const lp0 = await server.request('POST', '/v1/branches/b1/printers', {
      token: adminToken,
      body: { id: 'found-2', agentId: 'a1', model: 'epson', connection: { type: 'device', path: join(dev, 'usb', 'lp0') } }
    })
    t.equal(lp0.status, 201)
    const again = await server.request('GET', discoveryPath('b1', 'a1', asked.body.id), { token: adminToken })
    t.same(again.body.report.tcp.map((r: { registeredAs: string | null }) => r.registeredAs), ['p1', 'found-1', null, null], 'what was just registered is marked')
    t.same(again.body.report.serial.ports.map((p: { registeredAs: string | null }) => p.registeredAs), [null, 'found-2'])
  })

  t.test('a technician may ask for a discovery and read it; an operator may do neither', async (t) => {
    const technician = server.token('acme', 'technician', { branches: ['b1'] })
    const asked = await server.request('POST', discoveryPath('b1', 'a1'), { token: technician, body: { serial: true } })
    t.equal(asked.status, 202)
    const done = await server.request('GET', `${discoveryPath('b1', 'a1', asked.body.id)}?wait=30`, { token: technician })
    t.equal(done.body.state, 'completed')
    t.same(done.body.report.tcp, [], 'no TCP probes were asked')
    t.equal(done.body.requestedBy, 'test-technician')
    const operator = server.token('acme', 'operator')
    const refused = await server.request('POST', discoveryPath('b1', 'a1'), { token: operator, body: { serial: true } })
    t.same(refused.body, { statusCode: 403, code: 'PRINTMQ_API_FORBIDDEN', message: refused.body.message })
    t.equal((await server.request('GET', discoveryPath('b1', 'a1', asked.body.id), { token: operator })).status, 403)
    t.equal((await server.request('GET', discoveryPath('b1', 'a1'), { token: operator })).status, 403)
  })

  t.test('the list shows an agent\'s discoveries newest first', async (t) => {
    const first = await server.request('POST', discoveryPath('b1', 'a1'), { token: adminToken, body: { serial: true } })
    const second = await server.request('POST', discoveryPath('b1', 'a1'), { token: adminToken, body: { serial: true } })
    const list = await server.request('GET', discoveryPath('b1', 'a1'), { token: adminToken })
    t.equal(list.status, 200)
    const ids = list.body.items.map((item: { id: string }) => item.id)
    t.ok(ids.indexOf(second.body.id) < ids.indexOf(first.body.id) && ids.indexOf(second.body.id) >= 0)
    await server.request('GET', `${discoveryPath('b1', 'a1', second.body.id)}?wait=30`, { token: adminToken })
  })

  t.test('an offline agent is refused with 409 and nothing is stored', async (t) => {
    const created = await server.request('POST', '/v1/branches/b1/agents', { token: adminToken, body: { id: 'sleeping' } })
    t.equal(created.status, 201)
    const refused = await server.request('POST', discoveryPath('b1', 'sleeping'), { token: adminToken, body: { serial: true } })
    t.equal(refused.status, 409)
    t.equal(refused.body.code, 'PRINTMQ_API_AGENT_OFFLINE')
    t.same((await server.request('GET', discoveryPath('b1', 'sleeping'), { token: adminToken })).body, { items: [] })
  })

  t.test('agents and discoveries outside the caller\'s tenant or branches are not found', async (t) => {
    const asked = await server.request('POST', discoveryPath('b1', 'a1'), { token: adminToken, body: { serial: true } })
    const path = discoveryPath('b1', 'a1', asked.body.id)
    const foreign = server.token('globex', 'admin')
    t.equal((await server.request('POST', discoveryPath('b1', 'a1'), { token: foreign, body: { serial: true } })).body.code, 'PRINTMQ_API_AGENT_NOT_FOUND')
    t.equal((await server.request('GET', path, { token: foreign })).body.code, 'PRINTMQ_API_DISCOVERY_NOT_FOUND')
    const otherBranch = server.token('acme', 'technician', { branches: ['b2'] })
    t.equal((await server.request('POST', discoveryPath('b1', 'a1'), { token: otherBranch, body: { serial: true } })).body.code, 'PRINTMQ_API_AGENT_NOT_FOUND')
    t.equal((await server.request('GET', path, { token: otherBranch })).body.code, 'PRINTMQ_API_DISCOVERY_NOT_FOUND')
    t.equal((await server.request('GET', discoveryPath('b1', 'p1', asked.body.id), { token: adminToken })).body.code, 'PRINTMQ_API_DISCOVERY_NOT_FOUND', 'another agent\'s path')
    t.equal((await server.request('GET', discoveryPath('b1', 'a1', newId()), { token: adminToken })).status, 404)
    t.equal((await server.request('POST', discoveryPath('b1', 'nobody'), { token: adminToken, body: { serial: true } })).body.code, 'PRINTMQ_API_AGENT_NOT_FOUND')
    t.equal((await server.request('GET', discoveryPath('b1', 'a1', 'not-a-uuid'), { token: adminToken })).status, 400)
    await server.request('GET', `${path}?wait=30`, { token: adminToken })
  })

  t.test('requests outside the limits are refused with 400', async (t) => {
    const hosts = Array.from({ length: 257 }, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`)
    const bodies: Array<[string, unknown]> = [
      ['257 hosts', { tcp: { hosts } }],
      ['a CIDR block', { tcp: { hosts: ['10.0.0.0/24'] } }],
      ['a range', { tcp: { hosts: ['10.0.0.1 - 10.0.0.20'] } }],
      ['no hosts', { tcp: { hosts: [] } }],
      ['the same host twice', { tcp: { hosts: ['10.0.0.1', '10.0.0.1'] } }],
      ['five ports', { tcp: { hosts: ['10.0.0.1'], ports: [9100, 9101, 9102, 9103, 9104] } }],
      ['port 0', { tcp: { hosts: ['10.0.0.1'], ports: [0] } }],
      ['a timeout under 100 ms', { serial: true, timeoutMs: 50 }],
      ['a timeout over 5 s', { serial: true, timeoutMs: 5001 }],
      ['nothing to do', { serial: false }],
      ['an unknown field', { serial: true, subnet: '10.0.0.0/24' }]
    ]
    for (const [name, body] of bodies) {
      const refused = await server.request('POST', discoveryPath('b1', 'a1'), { token: adminToken, body })
      t.equal(refused.status, 400, name)
      t.equal(refused.body.code, 'PRINTMQ_API_INVALID_REQUEST', name)
    }
  })

  t.test('a report on another agent\'s topic cannot complete a discovery, and a report counts once', async (t) => {
    const createAgent = async (id: string): Promise<string> =>
      (await server.request('POST', '/v1/branches/b1/agents', { token: adminToken, body: { id } })).body.licenseKey
    const asked = await connectFakeAgent(t, server.mqttUrl, await createAgent('fake-asked'))
    const forger = await connectFakeAgent(t, server.mqttUrl, await createAgent('fake-forger'))
    const requests: DiscoveryRequestMessage[] = []
    asked.client.on('message', (topic, payload) => { if (topic === agentTopic(asked.ref, 'discovery')) requests.push(decodeMessage('discovery-request', payload)) })
    await asked.client.subscribeAsync(agentTopic(asked.ref, 'discovery'), { qos: 1 })
    await asked.publishHealth({ sessionId: 's-asked', online: true })
    await untilOnlineAtServer(server, 'acme', 'b1', 'fake-asked')

    const posted = await server.request('POST', discoveryPath('b1', 'fake-asked'), { token: adminToken, body: { serial: false, tcp: { hosts: ['printer.local', '192.168.1.50'] } } })
    t.equal(posted.status, 202)
    for (let i = 0; i < 200 && requests.length === 0; i++) await sleep(50)
    t.match(requests[0], { kind: 'discovery-request', discoveryId: posted.body.id, serial: false, tcp: { hosts: ['printer.local', '192.168.1.50'], ports: [9100] }, timeoutMs: 1000, expiresAt: posted.body.expiresAt, correlationId: posted.body.correlationId })

    const report = (tcp: unknown[]): Buffer => encodeMessage('discovery-report', posted.body.correlationId, { discoveryId: posted.body.id, serial: { method: 'skipped', ports: [] }, tcp: tcp as never, durationMs: 5 })
    await publishReport(forger, report([{ host: '6.6.6.6', port: 9100, reachable: true, statusAnswered: true, state: 'ready' }]))
    await untilLogLine(lines, (l) => l.msg === 'discovery report without a pending discovery dropped' && l.discoveryId === posted.body.id && l.agent === 'fake-forger')
    const still = await server.request('GET', discoveryPath('b1', 'fake-asked', posted.body.id), { token: adminToken })
    t.equal(still.body.state, 'pending', 'the forged report changed nothing')

    const genuine = [{ host: 'printer.local', port: 9100, reachable: false, statusAnswered: false, detail: 'getaddrinfo ENOTFOUND printer.local' }, { host: '192.168.1.50', port: 9100, reachable: true, statusAnswered: true, state: 'ready' }]
    await publishReport(asked, report(genuine))
    const done = await server.request('GET', `${discoveryPath('b1', 'fake-asked', posted.body.id)}?wait=30`, { token: adminToken })
    t.equal(done.body.state, 'completed')
    t.same(done.body.report.tcp, genuine.map((r) => ({ ...r, registeredAs: null })))

    await publishReport(asked, report([]))
    await untilLogLine(lines, (l) => l.msg === 'discovery report without a pending discovery dropped' && l.discoveryId === posted.body.id && l.agent === 'fake-asked')
    const after = await server.request('GET', discoveryPath('b1', 'fake-asked', posted.body.id), { token: adminToken })
    t.same(after.body.report.tcp, genuine.map((r) => ({ ...r, registeredAs: null })), 'a second report does not replace the first')
  })
}

async function publishReport (agent: FakeAgent, payload: Buffer): Promise<void> {
  await agent.client.publishAsync(agentTopic(agent.ref, 'discovered'), payload, { qos: 1 })
}
