/**
 * Database outage: the server reaches PostgreSQL through a TCP proxy the test cuts in
 * the middle of a stream of submissions. While it is cut the API answers 503 with
 * Retry-After (never 500) and /readyz is not ready; once restored, service resumes by
 * itself, every retried submission is recognised by its Idempotency-Key, and every
 * accepted job ends printed, once. PostgreSQL only: PGlite runs inside the process.
 */
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { testDatabases } from '../helpers/databases.js'
import { provision, startTestServer } from '../helpers/server.js'
import { startProxy, submitJob, type Attempt } from './faults-helpers.js'

const NO_RATE_LIMITS = { PRINTMQ_RATE_LIMIT_TENANT: '1000000', PRINTMQ_RATE_LIMIT_BRANCH: '1000000', PRINTMQ_RATE_LIMIT_PRINTER: '1000000' }
const postgres = testDatabases().filter((d) => d.name === 'postgres')
// Without PostgreSQL the test is listed as skipped with its reason (CI runs it on PostgreSQL).
if (postgres.length === 0) t.test('on postgres', { skip: 'a database outage needs PostgreSQL behind a proxy: set PRINTMQ_TEST_POSTGRES_URL' }, () => {})

for (const database of postgres) {
  await t.test(`on ${database.name}`, async (t) => {
    const location = await database.create(t)
    if (location.kind !== 'postgres') throw new Error('postgres expected')
    const target = new URL(location.url)
    const proxy = await startProxy(t, target.hostname, Number(target.port === '' ? 5432 : target.port))
    const proxied = new URL(location.url)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(proxy.port)
    const server = await startTestServer(t, { database: { kind: 'postgres', url: proxied.toString() }, env: NO_RATE_LIMITS })

    const printer = new VirtualPrinter()
    await printer.start()
    t.teardown(() => printer.stop())
    const { licenseKey } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: printer.port })
    const agent = new Agent({ url: server.mqttUrl, licenseKey, stateDir: t.testdir(), logger: createLogger({ level: 'silent' }), statusTimeoutMs: 1000 })
    t.teardown(() => agent.stop())
    await agent.start()
    await agent.waitUntilOnline()

    const token = server.token('acme', 'operator')
    const attempts = new Map<string, Attempt[]>()
    const send = async (i: number): Promise<Attempt> => {
      const key = `outage-${i}`
      const attempt = await submitJob(server.httpUrl, token, key, { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: `outage ticket ${i}` } })
      attempts.set(key, [...(attempts.get(key) ?? []), attempt])
      return attempt
    }

    for (let i = 0; i < 15; i++) await send(i)
    await proxy.cut()
    const during: Attempt[] = []
    for (let i = 15; i < 30; i++) during.push(await send(i))
    const ready = await server.request('GET', '/readyz')
    await proxy.restore()
    let resumed: Attempt = await send(30)
    // The first requests after the restore may still meet a connection the cut broke.
    while (resumed.kind !== 'accepted') resumed = await send(30)
    for (let i = 31; i < 45; i++) await send(i)

    t.equal(ready.status, 503, '/readyz reports not ready while the database is cut')
    t.ok(during.every((a) => a.kind === 'refused' && a.status === 503 && a.code === 'PRINTMQ_API_UNAVAILABLE' && a.retryAfter !== null), 'every submission during the outage is told 503 with Retry-After')
    const all = [...attempts.values()].flat()
    t.notOk(all.some((a) => a.kind === 'refused' && a.status === 500), 'never a 500')
    t.notOk(all.some((a) => a.kind === 'no-answer'), 'every request got an answer')

    // Clients retry what was refused, with the same key.
    for (const [key, list] of attempts) {
      let last = list[list.length - 1]
      while (last?.kind !== 'accepted') {
        await new Promise((resolve) => setTimeout(resolve, 100))
        last = await send(Number(key.slice('outage-'.length)))
      }
    }
    const jobIds = new Map<string, string>()
    const split: string[] = []
    for (const [key, list] of attempts) {
      const ids = new Set(list.flatMap((a) => a.kind === 'accepted' ? [a.jobId] : []))
      if (ids.size !== 1) split.push(key)
      jobIds.set(key, [...ids][0] as string)
    }
    t.same(split, [], 'for every key, every 202 names the same job')
    const states: Record<string, number> = {}
    for (const jobId of jobIds.values()) {
      let job = (await server.request('GET', `/v1/print-jobs/${jobId}?wait=60`, { token })).body
      while (!['printed', 'failed', 'unconfirmed', 'expired', 'canceled'].includes(job.state)) {
        job = (await server.request('GET', `/v1/print-jobs/${jobId}?wait=60`, { token })).body
      }
      states[job.state] = (states[job.state] ?? 0) + 1
    }
    const tickets = printer.tickets.map((ticket) => /outage ticket (\d+)/.exec(ticket.text)?.[1])
    t.comment(`45 keys, ${[...attempts.values()].flat().length} attempts, ${during.length} refused during the outage; final states ${JSON.stringify(states)}; ${tickets.length} tickets printed`)
    t.same(states, { printed: 45 }, 'every accepted job ended printed')
    t.equal(new Set(tickets).size, 45, 'every job reached paper')
    t.equal(tickets.length, 45, 'none twice')
  })
}
