/**
 * Idempotency-Key on creating POSTs (IETF draft semantics) through the real server, on
 * PGlite and PostgreSQL: replay, mismatch, per-tenant scope, limits, durability across
 * a restart, and the race of many concurrent retries.
 */
import t, { type Test } from 'tap'
import type { DatabaseLocation } from '../../api/db/database.js'
import { testDatabases } from '../helpers/databases.js'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

// The race below posts 2000 jobs to one printer within seconds.
const NO_RATE_LIMITS = { PRINTMQ_RATE_LIMIT_TENANT: '1000000', PRINTMQ_RATE_LIMIT_BRANCH: '1000000', PRINTMQ_RATE_LIMIT_PRINTER: '1000000' }

const body = (text: string): Record<string, unknown> => ({ branchId: 'b1', printerId: 'p1', content: { type: 'text', text } })

async function post (server: TestServer, tenant: string, key: string | null, payload: unknown): Promise<Awaited<ReturnType<TestServer['request']>>> {
  return await server.request('POST', '/v1/print-jobs', {
    token: server.token(tenant, 'operator'),
    body: payload,
    ...(key !== null ? { headers: { 'idempotency-key': key } } : {})
  })
}

async function countJobs (server: TestServer, tenant: string): Promise<number> {
  let count = 0
  let cursor: string | null = null
  do {
    const query: string = cursor === null ? '?limit=200' : `?limit=200&cursor=${cursor}`
    const page = await server.request('GET', `/v1/print-jobs${query}`, { token: server.token(tenant, 'technician') })
    if (page.status !== 200) throw new Error(`list: ${page.status} ${JSON.stringify(page.body)}`)
    count += page.body.items.length as number
    cursor = page.body.nextCursor
  } while (cursor !== null)
  return count
}

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const shared = await startTestServer(t, { database: await database.create(t), env: NO_RATE_LIMITS })
    let tenants = 0
    // Each subtest gets its own tenant on the shared server.
    const setup = async (): Promise<{ server: TestServer, tenant: string }> => {
      const tenant = `t${++tenants}`
      await provision(shared, tenant, { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
      return { server: shared, tenant }
    }

    await t.test('same key and body returns the stored response', async (t) => {
      const { server, tenant } = await setup()
      const first = await post(server, tenant, 'order-1', body('one'))
      t.equal(first.status, 202)
      t.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is not a replay')
      const again = await post(server, tenant, 'order-1', body('one'))
      t.equal(again.status, 202, 'same status')
      t.same(again.body, first.body, 'same body, same job id')
      t.equal(again.headers.get('location'), first.headers.get('location'))
      t.equal(again.headers.get('idempotent-replayed'), 'true')
      t.equal(await countJobs(server, tenant), 1, 'one job stored')
    })

    await t.test('same key with another body is refused with 422', async (t) => {
      const { server, tenant } = await setup()
      t.equal((await post(server, tenant, 'k', body('one'))).status, 202)
      const other = await post(server, tenant, 'k', body('two'))
      t.equal(other.status, 422)
      t.equal(other.body.code, 'PRINTMQ_API_IDEMPOTENCY_KEY_REUSED')
      t.equal(await countJobs(server, tenant), 1)
    })

    await t.test('keys are scoped per tenant', async (t) => {
      const { server, tenant } = await setup()
      const { tenant: other } = await setup()
      const a = await post(server, tenant, 'shared-key', body('same ticket'))
      const z = await post(server, other, 'shared-key', body('same ticket'))
      t.equal(a.status, 202)
      t.equal(z.status, 202)
      t.not(a.body.id, z.body.id, 'each tenant got its own job')
      t.equal(z.headers.get('idempotent-replayed'), null)
    })

    await t.test('a key is 1-255 printable characters', async (t) => {
      const { server, tenant } = await setup()
      t.equal((await post(server, tenant, 'x'.repeat(255), body('max'))).status, 202)
      const long = await post(server, tenant, 'x'.repeat(256), body('long'))
      t.equal(long.status, 400)
      t.equal(long.body.code, 'PRINTMQ_API_IDEMPOTENCY_KEY_INVALID')
      t.equal((await post(server, tenant, '"quoted-key"', body('sf-string'))).status, 202, 'a structured-field string is accepted')
      t.equal((await post(server, tenant, 'quoted-key', body('sf-string'))).headers.get('idempotent-replayed'), 'true', 'and is the same key as the bare token')
    })

    await t.test('an error is not remembered: the retry runs again', async (t) => {
      const { server, tenant } = await setup()
      const missing = await post(server, tenant, 'retry', { ...body('later'), printerId: 'p2' })
      t.equal(missing.status, 404)
      const admin = server.token(tenant, 'admin')
      const printer = await server.request('POST', '/v1/branches/b1/printers', { token: admin, body: { id: 'p2', agentId: 'a1', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: 9 } } })
      t.equal(printer.status, 201)
      const retry = await post(server, tenant, 'retry', { ...body('later'), printerId: 'p2' })
      t.equal(retry.status, 202)
      t.equal(retry.headers.get('idempotent-replayed'), null)
    })

    await t.test('a stored response survives a server restart', async (t) => {
      const location: DatabaseLocation = database.name === 'pglite' ? { kind: 'pglite', dataDir: t.testdir() } : await database.create(t)
      const first = await startTestServer(t, { database: location })
      await provision(first, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
      const before = await post(first, 'acme', 'durable', body('durable'))
      t.equal(before.status, 202)
      await first.server.stop()
      const second = await startTestServer(t, { database: location })
      const after = await post(second, 'acme', 'durable', body('durable'))
      t.equal(after.status, 202)
      t.equal(after.body.id, before.body.id, 'the same job')
      t.equal(after.headers.get('idempotent-replayed'), 'true')
    })

    await t.test('200 keys posted 10 times each at once create exactly 200 jobs', async (t) => {
      const { server, tenant } = await setup()
      await raceKeys(t, server, tenant, 200, 10)
    })
  })
}

async function raceKeys (t: Test, server: TestServer, tenant: string, keys: number, copies: number): Promise<void> {
  type Answer = { key: number, status: number, id: string | undefined, code: string | undefined }
  const answers: Answer[] = []
  const retries: Answer[] = []
  // 40 keys at a time, each posted `copies` times at once: 400 requests in flight, within
  // what one listening socket's backlog takes.
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const key = next++
      const round = await Promise.all(Array.from({ length: copies }, async () => {
        const r = await post(server, tenant, `race-${key}`, body(`ticket ${key}`))
        return { key, status: r.status, id: r.body.id, code: r.body.code }
      }))
      answers.push(...round)
      // A client told "still in flight" retries until it gets the stored response.
      let retry = round.some((a) => a.status === 202) ? null : round[0]
      while (retry !== null && retry !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        const r = await post(server, tenant, `race-${key}`, body(`ticket ${key}`))
        retries.push({ key, status: r.status, id: r.body.id, code: r.body.code })
        retry = r.status === 202 ? null : retry
      }
    }
  }
  await Promise.all(Array.from({ length: 40 }, worker))
  const statuses = new Map<number, number>()
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
  t.comment(`answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok(answers.every((a) => a.status === 202 || (a.status === 409 && a.code === 'PRINTMQ_API_IDEMPOTENCY_KEY_IN_FLIGHT')), 'every answer is the job or "still in flight"')
  t.comment(`${retries.length} retries after 409`)
  const idsPerKey = new Map<number, Set<string>>()
  for (const a of [...answers, ...retries]) {
    if (a.status !== 202 || a.id === undefined) continue
    const ids = idsPerKey.get(a.key) ?? new Set<string>()
    ids.add(a.id)
    idsPerKey.set(a.key, ids)
  }
  t.equal(idsPerKey.size, keys, 'every key got a job')
  t.ok([...idsPerKey.values()].every((ids) => ids.size === 1), 'all answers for one key carry the same job id')
  t.equal(await countJobs(server, tenant), keys, `exactly ${keys} jobs stored`)
}
