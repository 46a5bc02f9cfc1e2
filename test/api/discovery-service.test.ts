/**
 * DiscoveryService against a real database (PGlite, and PostgreSQL when configured):
 * what happens when the broker cannot take the request, and how waiting ends.
 */
import t from 'tap'
import { DiscoveryService, discoveryBudgetMs, normalizeDiscoveryInput } from '../../api/discovery/discovery-service.js'
import type { AuthContext } from '../../api/auth/claims.js'
import { BrokerUnavailableError } from '../../api/errors.js'
import { createLogger } from '../../shared/logger.js'
import { decodeMessage, encodeMessage } from '../../shared/messages.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase, seedTenant } from '../db/fixtures.js'

const admin: AuthContext = { subject: 'alice', tenant: 'tenant1', role: 'admin', branches: null }
const ref = { tenant: 'tenant1', branch: 'b1', agent: 'a1' }

t.test('defaults and the time budget follow the request', async (t) => {
  t.same(normalizeDiscoveryInput({}), { serial: true, timeoutMs: 1000 })
  t.same(normalizeDiscoveryInput({ serial: false, tcp: { hosts: ['h'] }, timeoutMs: 200 }), { serial: false, tcp: { hosts: ['h'], ports: [9100] }, timeoutMs: 200 })
  const small = discoveryBudgetMs({ serial: false, tcp: { hosts: ['h'], ports: [9100] }, timeoutMs: 1000 })
  const large = discoveryBudgetMs({ serial: false, tcp: { hosts: Array.from({ length: 256 }, (_, i) => `h${i}`), ports: [9100, 9101, 9102, 9103] }, timeoutMs: 1000 })
  t.equal(small, 15_000 + 5 * 1000, 'one round of probes')
  t.equal(large, 15_000 + 32 * 5 * 1000, '1024 probes are 32 rounds of 32')
  t.equal(discoveryBudgetMs({ serial: true, timeoutMs: 1000 }), 25_000, 'serial only')
})

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const open = await openTestDatabase(t, await database.create(t))
    await seedTenant(open, 'tenant1', 0)
    const published: Array<{ topic: string, payload: Buffer }> = []
    let brokerUp = true
    const service = new DiscoveryService({
      db: open.db,
      isAgentOnline: () => true,
      publish: async (topic, payload) => {
        if (!brokerUp) throw new BrokerUnavailableError()
        published.push({ topic, payload })
      },
      logger: createLogger({ level: 'silent' }),
      waitPollMs: 60_000
    })

    await t.test('a request the broker cannot take answers 503 and leaves nothing pending', async (t) => {
      const before = (await service.list(admin, 'b1', 'a1')).length
      brokerUp = false
      await t.rejects(service.request(admin, 'b1', 'a1', { serial: true }, 'corr-down'), { code: 'PRINTMQ_API_BROKER_UNAVAILABLE', statusCode: 503 })
      brokerUp = true
      t.equal((await service.list(admin, 'b1', 'a1')).length, before)
    })

    await t.test('a waiting reader is answered when the report is stored, not by its poll', async (t) => {
      const row = await service.request(admin, 'b1', 'a1', { serial: true }, 'corr-wait')
      const sent = decodeMessage('discovery-request', published.at(-1)?.payload ?? '')
      t.equal(published.at(-1)?.topic, 'printmq/v1/tenant1/b1/agents/a1/discovery')
      t.equal(sent.discoveryId, row.id)
      // The poll interval is a minute and the wait 30 s: only the notification can end it early.
      const waiting = service.waitForReport(admin, 'b1', 'a1', row.id, 30_000)
      await service.applyReport(ref, decodeMessage('discovery-report', encodeMessage('discovery-report', 'corr-wait', {
        discoveryId: row.id, serial: { method: 'scan', ports: [] }, tcp: [], durationMs: 2
      })))
      const done = await waiting
      t.equal(done.state, 'completed')
      t.same(done.report, { serial: { method: 'scan', ports: [] }, tcp: [], durationMs: 2 })
    })

    await t.test('an offline or revoked agent is refused', async (t) => {
      const offline = new DiscoveryService({ db: open.db, isAgentOnline: () => false, publish: async () => {}, logger: createLogger({ level: 'silent' }) })
      await t.rejects(offline.request(admin, 'b1', 'a1', { serial: true }, 'c'), { code: 'PRINTMQ_API_AGENT_OFFLINE', statusCode: 409 })
      await open.db.transaction().execute(async (trx) => {
        const { scopeTransaction } = await import('../../api/db/tenant-scope.js')
        await scopeTransaction(trx, 'tenant1')
        await trx.updateTable('agents').set({ revoked_at: new Date() }).where('id', '=', 'a1').execute()
      })
      await t.rejects(service.request(admin, 'b1', 'a1', { serial: true }, 'c'), { code: 'PRINTMQ_API_AGENT_OFFLINE' }, 'a revoked agent cannot be online')
    })
  })
}
