/**
 * Job results applied with group commit (JobService's result batcher), on PGlite and
 * PostgreSQL: many results of one tenant arriving at once each get their own outcome,
 * states stay monotonic, a result for another agent's job changes nothing, and one
 * result that fails does not take the others of its batch with it.
 */
import t from 'tap'
import { findJob, listJobEvents } from '../../api/db/jobs-repository.js'
import { withTenant } from '../../api/db/tenant-scope.js'
import type { Dispatcher } from '../../api/jobs/dispatcher.js'
import { JobChanges } from '../../api/jobs/job-changes.js'
import { JobService } from '../../api/jobs/job-service.js'
import type { JobResultMessage } from '../../shared/messages.js'
import { createLogger } from '../../shared/logger.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase, seedTenant } from '../db/fixtures.js'

const silent = createLogger({ level: 'silent' })
const agent = (tenant: string): { tenant: string, branch: string, agent: string } => ({ tenant, branch: 'b1', agent: 'a1' })
const result = (jobId: string, state: JobResultMessage['state'], code = 200): JobResultMessage =>
  ({ jobId, state, code, correlationId: `c-${jobId}` } as unknown as JobResultMessage)

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const db = await openTestDatabase(t, await database.create(t))
    const changes = new JobChanges()
    const service = new JobService({ db: db.db, dispatcher: {} as unknown as Dispatcher, changes, logger: silent })

    await t.test('results arriving together are applied, each with its own outcome, in order per job', async (t) => {
      const jobs = await seedTenant(db, 'batch1', 40)
      const applied: string[] = []
      const stop = changes.onAny((c) => { applied.push(`${c.jobId}:${c.state}`) })
      // accepted then printed for each job, all at once (the router keeps one agent's
      // results in order; here every job's two results go in order in one call chain).
      await Promise.all(jobs.map(async (job) => {
        await service.applyResult(agent('batch1'), result(job.id, 'accepted'))
        await service.applyResult(agent('batch1'), result(job.id, 'printed'))
      }))
      // A duplicate and a result from another agent of the tenant.
      await Promise.all([
        service.applyResult(agent('batch1'), result(jobs[0]!.id, 'printed')),
        service.applyResult({ tenant: 'batch1', branch: 'b1', agent: 'other' }, result(jobs[1]!.id, 'failed', 500))
      ])
      stop()
      t.equal(applied.length, 80, 'every accepted and printed applied once')
      for (const job of jobs) {
        const row = await withTenant(db.db, 'batch1', (trx) => findJob(trx, job.id))
        t.equal(row?.state, 'printed')
      }
      const events = await withTenant(db.db, 'batch1', (trx) => listJobEvents(trx, jobs[0]!.id))
      t.same(events.map((e) => [e.state, e.ignored]), [['queued', false], ['accepted', false], ['printed', false], ['printed', true]], 'the duplicate is recorded as ignored')
      const other = await withTenant(db.db, 'batch1', (trx) => listJobEvents(trx, jobs[1]!.id))
      t.notOk(other.some((e) => e.state === 'failed'), 'another agent cannot touch the job')
    })

    await t.test('several results for one job in one batch: each sees the state the ones before it left', async (t) => {
      const jobs = await seedTenant(db, 'batch3', 6)
      const blocker = jobs[0]!
      const canceled = jobs[1]!
      await withTenant(db.db, 'batch3', (trx) => trx.updateTable('print_jobs').set({ state: 'canceled' }).where('id', '=', canceled.id).execute())
      // The first result goes alone; every other one, fired before it commits, is in the next batch together.
      const outcomes = await Promise.all([
        service.applyResult(agent('batch3'), result(blocker.id, 'accepted')),
        ...jobs.slice(2).flatMap((job) => [
          service.applyResult(agent('batch3'), result(job.id, 'accepted', 202)),
          service.applyResult(agent('batch3'), result(job.id, 'printed', 200)),
          service.applyResult(agent('batch3'), result(job.id, 'failed', 430))
        ]),
        service.applyResult(agent('batch3'), result(canceled.id, 'printed', 200))
      ])
      t.equal(outcomes.length, 14)
      for (const job of jobs.slice(2)) {
        const row = await withTenant(db.db, 'batch3', (trx) => findJob(trx, job.id))
        t.equal(row?.state, 'printed', 'the last applied state is stored')
        t.equal(row?.result_code, 200, 'with its code')
        const events = await withTenant(db.db, 'batch3', (trx) => listJobEvents(trx, job.id))
        t.same(events.map((e) => [e.state, e.code, e.ignored]), [['queued', null, false], ['accepted', 202, false], ['printed', 200, false], ['failed', 430, true]], 'events in arrival order, the late failure ignored')
      }
      const events = await withTenant(db.db, 'batch3', (trx) => listJobEvents(trx, canceled.id))
      t.same(events.map((e) => [e.state, e.ignored, e.detail]), [['queued', false, null], ['printed', true, 'printed after cancel']], 'a result for a canceled job says so')
      const row = await withTenant(db.db, 'batch3', (trx) => findJob(trx, canceled.id))
      t.equal(row?.state, 'canceled')
    })

    await t.test('a result that fails does not take the other results of its batch with it', async (t) => {
      const jobs = await seedTenant(db, 'batch2', 10)
      // A code outside the column's integer range fails in the database.
      const outcomes = await Promise.allSettled(jobs.map((job, i) =>
        service.applyResult(agent('batch2'), i === 3 ? result(job.id, 'accepted', 2 ** 40) : result(job.id, 'accepted'))))
      t.equal(outcomes.filter((o) => o.status === 'rejected').length, 1, 'only the bad result fails')
      for (const [i, job] of jobs.entries()) {
        const row = await withTenant(db.db, 'batch2', (trx) => findJob(trx, job.id))
        t.equal(row?.state, i === 3 ? 'queued' : 'accepted')
      }
    })
  })
}
