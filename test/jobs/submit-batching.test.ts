/**
 * Job submissions stored with group commit (JobService's submissions batch), on PGlite
 * and PostgreSQL: many submissions of one tenant arriving at once each get their own
 * stored job (with its agent and first event), one naming an unknown printer or branch
 * fails alone with its own error, and a submission inside a surrounding transaction
 * (the Idempotency-Key path) is stored in that transaction, not in a batch.
 */
import t from 'tap'
import { findJob, listJobEvents } from '../../api/db/jobs-repository.js'
import { runInTenantTransaction, scopeTransaction, withTenant } from '../../api/db/tenant-scope.js'
import type { Dispatcher } from '../../api/jobs/dispatcher.js'
import { JobChanges } from '../../api/jobs/job-changes.js'
import { JobService, type JobSubmission } from '../../api/jobs/job-service.js'
import { BranchNotFoundError, PrinterNotFoundError } from '../../api/errors.js'
import type { AuthContext } from '../../api/auth/claims.js'
import { createLogger } from '../../shared/logger.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase, seedTenant } from '../db/fixtures.js'

const silent = createLogger({ level: 'silent' })
const admin = (tenant: string): AuthContext => ({ subject: 'test', tenant, role: 'admin', branches: null })
const ticket = (i: number, printerId = 'p1', branchId = 'b1'): JobSubmission => ({ branchId, printerId, content: { type: 'text', text: `ticket ${i}` }, reference: `r${i}` })

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const db = await openTestDatabase(t, await database.create(t))
    const notified: string[] = []
    const dispatcher = { canPublishNow: false, notify: (_tenant: string, jobId: string) => { notified.push(jobId) } } as unknown as Dispatcher
    const service = new JobService({ db: db.db, dispatcher, changes: new JobChanges(), logger: silent })

    await t.test('submissions arriving together are stored, each its own job; bad ones fail alone', async (t) => {
      await seedTenant(db, 'submit1', 0)
      notified.length = 0
      const outcomes = await Promise.allSettled(Array.from({ length: 30 }, async (_, i) =>
        await service.submit(admin('submit1'), i === 7 ? ticket(i, 'nope') : i === 11 ? ticket(i, 'p1', 'nowhere') : ticket(i), `corr-${i}`)))
      const stored = outcomes.flatMap((o) => o.status === 'fulfilled' ? [o.value] : [])
      t.equal(stored.length, 28, 'every good submission stored')
      t.ok((outcomes[7] as PromiseRejectedResult).reason instanceof PrinterNotFoundError, 'unknown printer: its own error')
      t.ok((outcomes[11] as PromiseRejectedResult).reason instanceof BranchNotFoundError, 'unknown branch: its own error')
      t.equal(new Set(stored.map((j) => j.id)).size, 28, 'distinct jobs')
      t.same(notified.sort(), stored.map((j) => j.id).sort(), 'each stored job handed to the dispatcher once')
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status !== 'fulfilled') continue
        const job = outcome.value
        t.equal(job.reference, `r${i}`, 'each caller gets its own job')
        t.equal(job.correlation_id, `corr-${i}`)
        t.equal(job.agent_id, 'a1', 'the printer\'s agent')
        const row = await withTenant(db.db, 'submit1', (trx) => findJob(trx, job.id))
        t.same((row?.content as { text: string }).text, `ticket ${i}`, 'content stored as sent')
        const events = await withTenant(db.db, 'submit1', (trx) => listJobEvents(trx, job.id))
        t.same(events.map((e) => [e.state, e.correlation_id]), [['queued', `corr-${i}`]], 'first event written with it')
      }
    })

    await t.test('a submission inside a surrounding transaction is stored in it and rolls back with it', async (t) => {
      await seedTenant(db, 'submit2', 0)
      const trx = await db.db.startTransaction().execute()
      await scopeTransaction(trx, 'submit2')
      const inside = await runInTenantTransaction({ db: db.db, tenant: 'submit2', trx, afterCommit: [] }, async () =>
        await service.submit(admin('submit2'), ticket(1), 'corr-inside'))
      const seenInside = await findJob(trx, inside.id)
      await trx.rollback().execute()
      t.equal(seenInside?.id, inside.id, 'visible inside the surrounding transaction')
      const row = await withTenant(db.db, 'submit2', (trx) => findJob(trx, inside.id))
      t.equal(row, null, 'gone with the rollback: it was not committed by a batch of its own')
    })
  })
}
