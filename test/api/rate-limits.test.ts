/**
 * Job submission rate limits: per printer, per branch and per tenant, 429 with
 * Retry-After and a JSON error; counted across instances through Redis when configured.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

const REDIS_URL = 'redis://127.0.0.1:6379'
const job = (branchId: string, printerId: string): Record<string, unknown> => ({ branchId, printerId, content: { type: 'text', text: 'x' } })

async function submit (server: TestServer, tenant: string, body: Record<string, unknown>): Promise<{ status: number, body: any, headers: Headers }> {
  return await server.request('POST', '/v1/print-jobs', { token: server.token(tenant, 'operator'), body })
}

t.test('each limit refuses the job after its allowance with 429, Retry-After and a JSON error', async (t) => {
  const server = await startTestServer(t, { env: { PRINTMQ_RATE_LIMIT_PRINTER: '2', PRINTMQ_RATE_LIMIT_BRANCH: '3', PRINTMQ_RATE_LIMIT_TENANT: '4' } })
  await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
  await provision(server, 'acme', { branch: 'b1', agent: 'a2', printer: 'p2', printerPort: 9 })
  await provision(server, 'acme', { branch: 'b2', agent: 'a3', printer: 'p3', printerPort: 9 })
  await provision(server, 'calm', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })

  t.equal((await submit(server, 'acme', job('b1', 'p1'))).status, 202)
  t.equal((await submit(server, 'acme', job('b1', 'p1'))).status, 202)
  const printerLimited = await submit(server, 'acme', job('b1', 'p1'))
  t.equal(printerLimited.status, 429)
  t.same(printerLimited.body, { statusCode: 429, code: 'PRINTMQ_API_RATE_LIMITED', message: printerLimited.body.message })
  t.match(printerLimited.body.message, /printer/)
  const retryAfter = Number(printerLimited.headers.get('retry-after'))
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter} s`)

  t.equal((await submit(server, 'acme', job('b1', 'p2'))).status, 202, 'another printer of the branch still has room')
  const branchLimited = await submit(server, 'acme', job('b1', 'p2'))
  t.equal(branchLimited.status, 429)
  t.match(branchLimited.body.message, /branch/)

  t.equal((await submit(server, 'acme', job('b2', 'p3'))).status, 202, 'another branch still has room')
  const tenantLimited = await submit(server, 'acme', job('b2', 'p3'))
  t.equal(tenantLimited.status, 429)
  t.match(tenantLimited.body.message, /tenant/)

  t.equal((await submit(server, 'calm', job('b1', 'p1'))).status, 202, 'another tenant is not affected')
  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text()
  t.match(metrics, /printmq_api_rate_limited_total\{scope="printer"\} [1-9]/)
  t.match(metrics, /printmq_api_rate_limited_total\{scope="tenant"\} [1-9]/)
})

const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null })
probe.on('error', () => {})
const redisReachable = await probe.connect().then(async () => await probe.ping()).then(() => true, () => false)
t.teardown(() => { probe.disconnect() })

t.test('instances sharing Redis count together', { skip: redisReachable ? false : `Redis is not reachable at ${REDIS_URL}` }, async (t) => {
  // Unique per run, so counters of other runs never interfere; removed at the end.
  const tenant = `rl${randomBytes(6).toString('hex')}`
  // Its own Redis namespace: with Redis the two servers' brokers also form a cluster,
  // whose state (retained messages, sessions) lives under the prefix too.
  const prefix = `printmq-test-${tenant}`
  t.teardown(async () => {
    const keys = await probe.keys(`${prefix}:*`)
    if (keys.length > 0) await probe.del(...keys)
  })
  const env = { PRINTMQ_REDIS_URL: REDIS_URL, PRINTMQ_REDIS_PREFIX: prefix, PRINTMQ_RATE_LIMIT_PRINTER: '2' }
  const one = await startTestServer(t, { env })
  const two = await startTestServer(t, { env })
  await provision(one, tenant, { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
  await provision(two, tenant, { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
  t.equal((await submit(one, tenant, job('b1', 'p1'))).status, 202)
  t.equal((await submit(two, tenant, job('b1', 'p1'))).status, 202)
  const limited = await submit(one, tenant, job('b1', 'p1'))
  t.equal(limited.status, 429, 'the first instance counts the second instance\'s job')
  t.ok((await probe.keys(`${prefix}:rl:*printer:${tenant}/b1/p1`)).length > 0, 'the counter lives in Redis')
})
