/**
 * Branches, agents and printers over HTTP: create, list with cursors, read, update,
 * delete; 404 (never 403) for unknown and foreign ids; printer changes re-publish the
 * agent's retained config at once.
 */
import t, { type Test } from 'tap'
import { connectFakeAgent } from '../helpers/fake-agent.js'
import { startTestServer, type ApiResponse } from '../helpers/server.js'

const server = await startTestServer(t)
const tenant = 'acme'
const admin = server.token(tenant, 'admin')
const operator = server.token(tenant, 'operator')
const technician = server.token(tenant, 'technician')
const tcp = { type: 'tcp', host: '127.0.0.1', port: 9100 }

function expectError (t: Test, response: ApiResponse, status: number, code: string): void {
  t.equal(response.status, status, `${code}: status ${status}`)
  t.same(response.body, { statusCode: status, code, message: response.body.message })
}

async function create (path: string, body: unknown): Promise<any> {
  const response = await server.request('POST', path, { token: admin, body })
  if (response.status !== 201) throw new Error(`${path}: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

t.test('branches are listed page by page with a cursor, each once, in id order', async (t) => {
  const ids = ['list-a', 'list-b', 'list-c', 'list-d', 'list-e']
  for (const id of ids) await create('/v1/branches', { id, name: `Branch ${id}` })
  const other = server.token('list-tenant', 'admin')
  await server.request('POST', '/v1/branches', { token: other, body: { id: 'list-zz' } })
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`
    const page: ApiResponse = await server.request('GET', `/v1/branches${query}`, { token: operator })
    t.equal(page.status, 200)
    t.ok(page.body.items.length <= 2)
    seen.push(...page.body.items.map((b: any) => b.id as string))
    cursor = page.body.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.same(seen.filter((id) => id.startsWith('list-')), ids, 'every branch once, in order; none of another tenant')
  expectError(t, await server.request('GET', '/v1/branches?cursor=%2F%2F', { token: operator }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  expectError(t, await server.request('GET', '/v1/branches?limit=201', { token: operator }), 400, 'PRINTMQ_API_INVALID_REQUEST')
})

t.test('a token limited to branches lists and reads only those', async (t) => {
  await create('/v1/branches', { id: 'scoped-1' })
  await create('/v1/branches', { id: 'scoped-2' })
  const limited = server.token(tenant, 'admin', { branches: ['scoped-1'] })
  const list = await server.request('GET', '/v1/branches?limit=200', { token: limited })
  t.same(list.body.items.map((b: any) => b.id), ['scoped-1'])
  expectError(t, await server.request('GET', '/v1/branches/scoped-2', { token: limited }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  expectError(t, await server.request('PATCH', '/v1/branches/scoped-2', { token: limited, body: { name: 'x' } }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  expectError(t, await server.request('DELETE', '/v1/branches/scoped-2', { token: limited }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  expectError(t, await server.request('GET', '/v1/branches/scoped-2/agents', { token: limited }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  expectError(t, await server.request('GET', '/v1/branches/scoped-2/printers', { token: limited }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  t.equal((await server.request('GET', '/v1/branches/scoped-2', { token: admin })).status, 200, 'the unlimited token still sees it')
})

t.test('a branch is read, renamed and deleted only while it has no agents', async (t) => {
  await create('/v1/branches', { id: 'crud-b', name: 'Old' })
  const read = await server.request('GET', '/v1/branches/crud-b', { token: technician })
  t.match(read.body, { id: 'crud-b', name: 'Old' })
  const renamed = await server.request('PATCH', '/v1/branches/crud-b', { token: admin, body: { name: 'New' } })
  t.match(renamed.body, { id: 'crud-b', name: 'New' })
  expectError(t, await server.request('PATCH', '/v1/branches/crud-b', { token: operator, body: { name: 'x' } }), 403, 'PRINTMQ_API_FORBIDDEN')
  await create('/v1/branches/crud-b/agents', { id: 'crud-a' })
  expectError(t, await server.request('DELETE', '/v1/branches/crud-b', { token: admin }), 409, 'PRINTMQ_API_BRANCH_NOT_EMPTY')
  t.equal((await server.request('DELETE', '/v1/branches/crud-b/agents/crud-a', { token: admin })).status, 204)
  t.equal((await server.request('DELETE', '/v1/branches/crud-b', { token: admin })).status, 204)
  expectError(t, await server.request('GET', '/v1/branches/crud-b', { token: admin }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
})

t.test('agents are listed, read and renamed without their license; deleting one with printers is refused', async (t) => {
  await create('/v1/branches', { id: 'ag-b' })
  await create('/v1/branches/ag-b/agents', { id: 'ag-1', name: 'Kitchen' })
  await create('/v1/branches/ag-b/agents', { id: 'ag-2' })
  const list = await server.request('GET', '/v1/branches/ag-b/agents', { token: technician })
  t.same(list.body.items.map((a: any) => a.id), ['ag-1', 'ag-2'])
  t.equal(list.body.nextCursor, null)
  t.notOk(JSON.stringify(list.body).includes('license_hash') || JSON.stringify(list.body).includes('licenseKey'), 'no license material')
  const read = await server.request('GET', '/v1/branches/ag-b/agents/ag-1', { token: operator })
  t.match(read.body, { id: 'ag-1', branchId: 'ag-b', name: 'Kitchen', revoked: false })
  t.same(Object.keys(read.body).sort(), ['branchId', 'createdAt', 'id', 'licenseIssuedAt', 'mqtt', 'name', 'revoked'])
  // The broker URL and MQTT identity, as at creation: a runbook can read them again.
  t.same(read.body.mqtt, { url: server.mqttUrl, username: 'agent.acme.ag-b.ag-1', clientId: 'agent.acme.ag-b.ag-1' })
  t.same(list.body.items[1].mqtt, { url: server.mqttUrl, username: 'agent.acme.ag-b.ag-2', clientId: 'agent.acme.ag-b.ag-2' })
  t.match((await server.request('PATCH', '/v1/branches/ag-b/agents/ag-1', { token: admin, body: { name: null } })).body, { name: null })
  await create('/v1/branches/ag-b/printers', { id: 'ag-p', agentId: 'ag-1', model: 'epson', connection: tcp })
  expectError(t, await server.request('DELETE', '/v1/branches/ag-b/agents/ag-1', { token: admin }), 409, 'PRINTMQ_API_AGENT_HAS_PRINTERS')
  expectError(t, await server.request('GET', '/v1/branches/ag-b/agents/nope', { token: admin }), 404, 'PRINTMQ_API_AGENT_NOT_FOUND')
  expectError(t, await server.request('GET', '/v1/branches/ag-b/agents/ag-1', { token: server.token('evil', 'admin') }), 404, 'PRINTMQ_API_AGENT_NOT_FOUND')
})

t.test('printers of every connection type are stored and shown as sent', async (t) => {
  await create('/v1/branches', { id: 'pt-b' })
  await create('/v1/branches/pt-b/agents', { id: 'pt-a' })
  const serial = { type: 'serial', path: '/dev/ttyUSB0', baudRate: 19200 }
  const device = { type: 'device', path: '/dev/usb/lp0' }
  t.match(await create('/v1/branches/pt-b/printers', { id: 'pt-tcp', agentId: 'pt-a', model: 'epson', connection: tcp }), { connection: tcp, width: 48 })
  t.match(await create('/v1/branches/pt-b/printers', { id: 'pt-serial', agentId: 'pt-a', model: 'star', connection: serial, width: 42, codePage: 'cp866' }), { connection: serial, model: 'star', width: 42, codePage: 'cp866' })
  t.match(await create('/v1/branches/pt-b/printers', { id: 'pt-device', agentId: 'pt-a', model: 'epson', connection: device }), { connection: device })
  const list = await server.request('GET', '/v1/branches/pt-b/printers?limit=2', { token: technician })
  t.same(list.body.items.map((p: any) => p.id), ['pt-device', 'pt-serial'])
  const rest = await server.request('GET', `/v1/branches/pt-b/printers?limit=2&cursor=${list.body.nextCursor as string}`, { token: technician })
  t.same(rest.body.items.map((p: any) => p.id), ['pt-tcp'])
  t.equal(rest.body.nextCursor, null)
  expectError(t, await server.request('POST', '/v1/branches/pt-b/printers', { token: admin, body: { id: 'bad', agentId: 'pt-a', model: 'epson', connection: { type: 'usb' } } }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  expectError(t, await server.request('POST', '/v1/branches/pt-b/printers', { token: admin, body: { id: 'bad', agentId: 'pt-a', model: 'epson', connection: tcp, codePage: 'utf-8' } }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  t.match((await server.request('PATCH', '/v1/branches/pt-b/printers/pt-serial', { token: admin, body: { codePage: null } })).body, { codePage: null }, 'null returns to the default')
  expectError(t, await server.request('GET', '/v1/branches/pt-b/printers/pt-tcp', { token: server.token('evil', 'technician') }), 404, 'PRINTMQ_API_PRINTER_NOT_FOUND')
})

t.test('changing a printer re-publishes the retained config of its old and new agent at once', async (t) => {
  await create('/v1/branches', { id: 'cfg-b' })
  const first = await create('/v1/branches/cfg-b/agents', { id: 'cfg-1' })
  const second = await create('/v1/branches/cfg-b/agents', { id: 'cfg-2' })
  await create('/v1/branches/cfg-b/printers', { id: 'cfg-p', agentId: 'cfg-1', model: 'epson', connection: tcp })
  const agent1 = await connectFakeAgent(t, server.mqttUrl, first.licenseKey)
  const agent2 = await connectFakeAgent(t, server.mqttUrl, second.licenseKey)
  await agent1.nextConfig((c) => c.printers.some((p) => p.id === 'cfg-p'))

  const widened = await server.request('PATCH', '/v1/branches/cfg-b/printers/cfg-p', { token: admin, body: { width: 32, codePage: 'cp858', connection: { type: 'tcp', host: '10.0.0.7', port: 9101 } } })
  t.equal(widened.status, 200)
  t.match(widened.body, { width: 32, codePage: 'cp858', connection: { host: '10.0.0.7', port: 9101 } })
  const updated = await agent1.nextConfig((c) => c.printers.some((p) => p.id === 'cfg-p' && p.width === 32 && p.codePage === 'cp858'))
  t.equal(updated.correlationId, widened.headers.get('x-correlation-id'), 'the config carries the request correlation id')

  const moved = await server.request('PATCH', '/v1/branches/cfg-b/printers/cfg-p', { token: admin, body: { agentId: 'cfg-2' } })
  t.equal(moved.body.agentId, 'cfg-2')
  await agent1.nextConfig((c) => c.printers.length === 0)
  await agent2.nextConfig((c) => c.printers.some((p) => p.id === 'cfg-p'))

  expectError(t, await server.request('PATCH', '/v1/branches/cfg-b/printers/cfg-p', { token: admin, body: { agentId: 'nope' } }), 404, 'PRINTMQ_API_AGENT_NOT_FOUND')
  expectError(t, await server.request('PATCH', '/v1/branches/cfg-b/printers/cfg-p', { token: admin, body: {} }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  t.equal((await server.request('DELETE', '/v1/branches/cfg-b/printers/cfg-p', { token: admin })).status, 204)
  await agent2.nextConfig((c) => c.printers.length === 0)
  expectError(t, await server.request('GET', '/v1/branches/cfg-b/printers/cfg-p', { token: admin }), 404, 'PRINTMQ_API_PRINTER_NOT_FOUND')
})

t.test('a printer with unfinished jobs cannot be deleted', async (t) => {
  await create('/v1/branches', { id: 'busy-b' })
  await create('/v1/branches/busy-b/agents', { id: 'busy-a' })
  await create('/v1/branches/busy-b/printers', { id: 'busy-p', agentId: 'busy-a', model: 'epson', connection: tcp })
  const job = await server.request('POST', '/v1/print-jobs', { token: operator, body: { branchId: 'busy-b', printerId: 'busy-p', content: { type: 'text', text: 'x' } } })
  t.equal(job.status, 202)
  expectError(t, await server.request('DELETE', '/v1/branches/busy-b/printers/busy-p', { token: admin }), 409, 'PRINTMQ_API_PRINTER_BUSY')
})
