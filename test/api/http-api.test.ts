import t, { type Test } from 'tap'
import { API_ERRORS } from '../../api/errors.js'
import { mintToken } from '../../api/auth/tokens.js'
import { startTestServer, provision } from '../helpers/server.js'

const server = await startTestServer(t)
const tenant = 'acme'
const admin = server.token(tenant, 'admin')
const operator = server.token(tenant, 'operator')
await provision(server, tenant, { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
const validJob = { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'hello kitchen' } }

function assertError (t: Test, response: { status: number, body: any }, status: number, code: string): void {
  t.equal(response.status, status, `status ${status}`)
  t.same(Object.keys(response.body).sort(), ['code', 'message', 'statusCode'])
  t.equal(response.body.statusCode, status)
  t.equal(response.body.code, code)
  t.type(response.body.message, 'string')
}

t.test('every response carries a correlation id, taken from the request when valid', async (t) => {
  const generated = await server.request('GET', '/healthz')
  t.match(generated.headers.get('x-correlation-id'), /^[0-9a-f-]{36}$/)
  const echoed = await server.request('GET', '/healthz', { headers: { 'x-correlation-id': 'order-42' } })
  t.equal(echoed.headers.get('x-correlation-id'), 'order-42')
  const replaced = await server.request('GET', '/healthz', { headers: { 'x-correlation-id': 'bad id with spaces' } })
  t.not(replaced.headers.get('x-correlation-id'), 'bad id with spaces')
  const onError = await server.request('GET', '/v1/nope', { headers: { 'x-correlation-id': 'err-1' } })
  t.equal(onError.headers.get('x-correlation-id'), 'err-1')
  assertError(t, onError, 404, 'PRINTMQ_API_ROUTE_NOT_FOUND')
})

t.test('a submitted job is queued with the request correlation id and readable with its history', async (t) => {
  const submitted = await server.request('POST', '/v1/print-jobs', { token: operator, body: { ...validJob, reference: 'order-7', copies: 2 }, headers: { 'x-correlation-id': 'pos-123' } })
  t.equal(submitted.status, 202)
  t.match(submitted.body, { state: 'queued', correlationId: 'pos-123', branchId: 'b1', printerId: 'p1', agentId: 'a1', copies: 2, reference: 'order-7' })
  t.equal(submitted.headers.get('location'), `/v1/print-jobs/${submitted.body.id as string}`)
  const read = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}`, { token: server.token(tenant, 'technician') })
  t.equal(read.status, 200)
  t.equal(read.body.history[0].state, 'queued')
  t.equal(read.body.history[0].correlationId, 'pos-123')
  t.ok(Date.parse(read.body.history[0].at) > 0)
})

t.test('?wait returns when the time is up if the job did not finish', async (t) => {
  const submitted = await server.request('POST', '/v1/print-jobs', { token: operator, body: validJob })
  const started = Date.now()
  const read = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=1`, { token: operator })
  t.equal(read.status, 200)
  t.ok(Date.now() - started >= 900, 'waited about a second')
  t.notOk(['printed', 'failed'].includes(read.body.state as string))
  assertError(t, await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=61`, { token: operator }), 400, 'PRINTMQ_API_INVALID_REQUEST')
})

t.test('bad tokens get 401 with a JSON body', async (t) => {
  assertError(t, await server.request('POST', '/v1/print-jobs', { body: validJob }), 401, 'PRINTMQ_API_UNAUTHORIZED')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: 'garbage', body: validJob }), 401, 'PRINTMQ_API_UNAUTHORIZED')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: mintToken('x'.repeat(40), { tenant, role: 'admin', subject: 's', ttlSeconds: 60 }), body: validJob }), 401, 'PRINTMQ_API_UNAUTHORIZED')
  const payload = admin.split('.')[1] as string
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: unsigned, body: validJob }), 401, 'PRINTMQ_API_UNAUTHORIZED')
  const expired = mintToken(server.secret, { tenant, role: 'admin', subject: 's', ttlSeconds: -10 })
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: expired, body: validJob }), 401, 'PRINTMQ_API_UNAUTHORIZED')
})

t.test('roles are enforced per route', async (t) => {
  assertError(t, await server.request('POST', '/v1/branches', { token: operator, body: { id: 'b9' } }), 403, 'PRINTMQ_API_FORBIDDEN')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: server.token(tenant, 'technician'), body: validJob }), 403, 'PRINTMQ_API_FORBIDDEN')
})

t.test('invalid ids and bodies get 400 and store nothing', async (t) => {
  assertError(t, await server.request('POST', '/v1/branches', { token: admin, body: { id: 'has/slash' } }), 400, 'PRINTMQ_API_INVALID_ID')
  assertError(t, await server.request('POST', '/v1/branches/b1/agents', { token: admin, body: { id: 'a+b' } }), 400, 'PRINTMQ_API_INVALID_ID')
  assertError(t, await server.request('POST', '/v1/branches/b1/agents', { token: admin, body: { id: 'a2', extra: true } }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  t.equal((await server.request('POST', '/v1/branches/b1/agents', { token: admin, body: { id: 'a2' } })).status, 201, 'the refused request stored nothing')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: operator, body: { ...validJob, copies: 11 } }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: operator, body: { ...validJob, ttlSeconds: 86_401 } }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: operator, body: { ...validJob, content: { type: 'pdf' } } }), 400, 'PRINTMQ_API_INVALID_REQUEST')
  const badJobId = await server.request('GET', '/v1/print-jobs/abc', { token: operator })
  assertError(t, badJobId, 400, 'PRINTMQ_API_INVALID_ID')
  t.match(badJobId.body.message, /^params\/id is not a valid id \(a job id is a UUID such as /, 'a job id names its own rule, not the rule of other ids')
  t.match((await server.request('POST', '/v1/branches', { token: admin, body: { id: 'has/slash' } })).body.message, /^body\/id is not a valid id \(1-64 of A-Z a-z 0-9 _ -\)$/)
  const raw = await fetch(`${server.httpUrl}/v1/print-jobs`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: '{"branchId":' })
  assertError(t, { status: raw.status, body: await raw.json() }, 400, 'PRINTMQ_API_INVALID_REQUEST')
  const text = await fetch(`${server.httpUrl}/v1/print-jobs`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'text/plain' }, body: 'hello' })
  const textBody: any = await text.json()
  assertError(t, { status: text.status, body: textBody }, 415, 'PRINTMQ_API_UNSUPPORTED_MEDIA_TYPE')
  t.equal(textBody.message, 'content type "text/plain" is not supported; send application/json', 'the message names the type sent')
  // An empty body labelled JSON is no body: a route that needs one says so.
  const empty = await fetch(`${server.httpUrl}/v1/print-jobs`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' } })
  const emptyBody: any = await empty.json()
  assertError(t, { status: empty.status, body: emptyBody }, 400, 'PRINTMQ_API_INVALID_REQUEST')
  t.equal(emptyBody.message, 'invalid request: body must not be empty')
  const poisoned = await fetch(`${server.httpUrl}/v1/print-jobs`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: '{"__proto__":{"x":1}}' })
  assertError(t, { status: poisoned.status, body: await poisoned.json() }, 400, 'PRINTMQ_API_INVALID_REQUEST')
})

t.test('a reprint with an empty body labelled application/json is a reprint without options', async (t) => {
  const job = await server.request('POST', '/v1/print-jobs', { token: operator, body: validJob })
  t.equal(job.status, 202)
  const reprint = await fetch(`${server.httpUrl}/v1/print-jobs/${job.body.id as string}/reprint`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' } })
  t.equal(reprint.status, 202)
  t.equal(((await reprint.json()) as { reprintOf: string }).reprintOf, job.body.id)
})

t.test('unknown or foreign branches, printers, agents and jobs are 404', async (t) => {
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: operator, body: { ...validJob, branchId: 'nope' } }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: operator, body: { ...validJob, printerId: 'nope' } }), 404, 'PRINTMQ_API_PRINTER_NOT_FOUND')
  assertError(t, await server.request('POST', '/v1/branches/nope/agents', { token: admin, body: { id: 'a9' } }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  assertError(t, await server.request('POST', '/v1/branches/b1/printers', { token: admin, body: { id: 'p9', agentId: 'nope', model: 'epson', connection: { type: 'tcp', host: 'h', port: 9100 } } }), 404, 'PRINTMQ_API_AGENT_NOT_FOUND')
  const job = await server.request('POST', '/v1/print-jobs', { token: operator, body: validJob })
  const foreign = server.token('other-tenant', 'admin')
  assertError(t, await server.request('GET', `/v1/print-jobs/${job.body.id as string}`, { token: foreign }), 404, 'PRINTMQ_API_JOB_NOT_FOUND')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: foreign, body: validJob }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  const limited = server.token(tenant, 'operator', { branches: ['b2'] })
  assertError(t, await server.request('GET', `/v1/print-jobs/${job.body.id as string}`, { token: limited }), 404, 'PRINTMQ_API_JOB_NOT_FOUND')
  assertError(t, await server.request('POST', '/v1/print-jobs', { token: limited, body: validJob }), 404, 'PRINTMQ_API_BRANCH_NOT_FOUND')
})

t.test('creating something twice is a 409', async (t) => {
  assertError(t, await server.request('POST', '/v1/branches', { token: admin, body: { id: 'b1' } }), 409, 'PRINTMQ_API_BRANCH_EXISTS')
  assertError(t, await server.request('POST', '/v1/branches/b1/agents', { token: admin, body: { id: 'a1' } }), 409, 'PRINTMQ_API_AGENT_EXISTS')
})

t.test('the agent license is shown once with the MQTT identity', async (t) => {
  const created = await server.request('POST', '/v1/branches/b1/agents', { token: admin, body: { id: 'bar', name: 'Bar printer box' } })
  t.equal(created.status, 201)
  t.match(created.body, { id: 'bar', name: 'Bar printer box', mqtt: { url: server.mqttUrl, username: 'agent.acme.b1.bar', clientId: 'agent.acme.b1.bar' } })
  t.match(created.body.licenseKey, /^pmq1\.acme\.b1\.bar\./)
})

t.test('error codes are unique and well formed', async (t) => {
  const codes = API_ERRORS.map((e) => e.code)
  t.equal(new Set(codes).size, codes.length)
  for (const e of API_ERRORS) {
    t.match(e.code, /^PRINTMQ_API_[A-Z_]+$/)
    t.ok(e.statusCode >= 400 && e.statusCode < 600)
  }
})

t.test('healthz and readyz answer', async (t) => {
  t.same((await server.request('GET', '/healthz')).body, { status: 'ok' })
  t.match((await server.request('GET', '/readyz')).body, { status: 'ready', database: true, broker: true })
})
