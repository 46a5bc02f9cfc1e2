/**
 * The printer discoveries table (migration 0004) on PGlite and PostgreSQL: a report
 * completes only a pending, unexpired discovery of the agent that reported; each agent
 * keeps its newest few; discoveries go with their agent; tenants see only their own.
 */
import { sql } from 'kysely'
import t from 'tap'
import { deleteIdleAgent } from '../../api/db/agents-repository.js'
import {
  completeDiscovery, DISCOVERIES_KEPT_PER_AGENT, findDiscovery, insertDiscovery, listDiscoveries
} from '../../api/db/discoveries-repository.js'
import { withTenant } from '../../api/db/tenant-scope.js'
import { discoveryView } from '../../api/routes/discovery.js'
import { newId } from '../../shared/ids.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase } from './fixtures.js'

const report = { serial: { method: 'skipped', ports: [] }, tcp: [{ host: '10.0.0.5', port: 9100, reachable: true, statusAnswered: true, state: 'ready' }], durationMs: 12 }

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const open = await openTestDatabase(t, await database.create(t))
    const db = open.db
    for (const tenant of ['acme', 'globex']) {
      await withTenant(db, tenant, async (trx) => {
        await trx.insertInto('tenants').values({ id: tenant }).execute()
        await trx.insertInto('branches').values({ tenant_id: tenant, id: 'b1', name: null }).execute()
        for (const agent of ['a1', 'a2']) {
          await trx.insertInto('agents').values({ tenant_id: tenant, branch_id: 'b1', id: agent, name: null, license_hash: `h-${tenant}-${agent}`, license_issued_at: new Date() }).execute()
        }
      })
    }
    const newDiscovery = (tenant: string, agentId: string, expiresInMs = 60_000): Parameters<typeof insertDiscovery>[1] => ({
      tenant, id: newId(), branchId: 'b1', agentId, request: { serial: true, timeoutMs: 1000 }, requestedBy: 'test', correlationId: 'c-1', expiresAt: new Date(Date.now() + expiresInMs)
    })

    await t.test('a report completes a pending discovery of its own agent once', async (t) => {
      const row = await withTenant(db, 'acme', (trx) => insertDiscovery(trx, newDiscovery('acme', 'a1')))
      t.equal(row.state, 'pending')
      t.equal(discoveryView(row).state, 'pending')
      t.equal(await withTenant(db, 'acme', (trx) => completeDiscovery(trx, 'b1', 'a2', row.id, report)), null, 'another agent cannot complete it')
      t.equal(await withTenant(db, 'globex', (trx) => completeDiscovery(trx, 'b1', 'a1', row.id, report)), null, 'another tenant cannot complete it')
      const done = await withTenant(db, 'acme', (trx) => completeDiscovery(trx, 'b1', 'a1', row.id, report))
      t.equal(done?.state, 'completed')
      t.same(done?.report, report)
      t.ok(done?.completed_at instanceof Date)
      t.equal(await withTenant(db, 'acme', (trx) => completeDiscovery(trx, 'b1', 'a1', row.id, { ...report, durationMs: 1 })), null, 'a second report is refused')
      t.same((await withTenant(db, 'acme', (trx) => findDiscovery(trx, 'b1', 'a1', row.id)))?.report, report)
    })

    await t.test('an expired discovery takes no report and shows as expired', async (t) => {
      const row = await withTenant(db, 'acme', (trx) => insertDiscovery(trx, newDiscovery('acme', 'a1', -1000)))
      t.equal(await withTenant(db, 'acme', (trx) => completeDiscovery(trx, 'b1', 'a1', row.id, report)), null)
      const stored = await withTenant(db, 'acme', (trx) => findDiscovery(trx, 'b1', 'a1', row.id))
      t.equal(stored?.state, 'pending')
      t.equal(stored === null ? null : discoveryView(stored).state, 'expired')
    })

    await t.test(`each agent keeps its newest ${DISCOVERIES_KEPT_PER_AGENT} discoveries`, async (t) => {
      const ids: string[] = []
      for (let i = 0; i < DISCOVERIES_KEPT_PER_AGENT + 5; i++) {
        ids.push((await withTenant(db, 'acme', (trx) => insertDiscovery(trx, newDiscovery('acme', 'a2')))).id)
      }
      const kept = await withTenant(db, 'acme', (trx) => listDiscoveries(trx, 'b1', 'a2'))
      t.equal(kept.length, DISCOVERIES_KEPT_PER_AGENT)
      t.same(new Set(kept.map((r) => r.id)), new Set(ids.slice(-DISCOVERIES_KEPT_PER_AGENT)), 'the oldest went')
      const a1 = await withTenant(db, 'acme', (trx) => listDiscoveries(trx, 'b1', 'a1'))
      t.equal(a1.length, 2, 'other agents keep theirs')
    })

    await t.test('a tenant sees only its own discoveries', async (t) => {
      const mine = await withTenant(db, 'globex', (trx) => insertDiscovery(trx, newDiscovery('globex', 'a1')))
      t.equal(await withTenant(db, 'acme', (trx) => findDiscovery(trx, 'b1', 'a1', mine.id)), null)
      const all = await withTenant(db, 'acme', (trx) => sql<{ tenant_id: string }>`select tenant_id from printer_discoveries`.execute(trx))
      t.ok(all.rows.length > 0 && all.rows.every((r) => r.tenant_id === 'acme'))
      await t.rejects(withTenant(db, 'acme', (trx) => insertDiscovery(trx, newDiscovery('globex', 'a1'))), 'writing another tenant\'s row is refused')
    })

    await t.test('deleting an agent deletes its discoveries', async (t) => {
      t.equal(await withTenant(db, 'globex', (trx) => deleteIdleAgent(trx, 'b1', 'a1')), 'deleted')
      const left = await withTenant(db, 'globex', (trx) => listDiscoveries(trx, 'b1', 'a1'))
      t.same(left, [])
    })
  })
}
