/**
 * printmq_refresh_job_statistics (migration 0007), on PGlite and PostgreSQL: a young job
 * table is analyzed once it holds more than twice the rows its statistics say, and not
 * again until it doubles once more. (That ANALYZE drops plans kept for the small table is
 * PostgreSQL's doing; bench/plan-cost/run.sh shows a call's cost before and after.)
 */
import { sql } from 'kysely'
import t from 'tap'
import { insertJobsForPrinters, refreshJobStatistics } from '../../api/db/jobs-repository.js'
import { newId } from '../../shared/ids.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase, seedTenant } from './fixtures.js'

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const location = await database.create(t)
    const open = await openTestDatabase(t, location, 2)
    await seedTenant(open, 'tenant0', 0)
    const analyzedRows = async (): Promise<number> =>
      (await sql<{ n: number }>`select reltuples::float8 as n from pg_class where oid = 'print_jobs'::regclass`.execute(open.db)).rows[0]?.n ?? -1
    const addJobs = async (count: number): Promise<void> => {
      await insertJobsForPrinters(open.db, 'tenant0', Array.from({ length: count }, () => ({
        id: newId(), branchId: 'b1', printerId: 'p1', content: { type: 'text' as const, text: 'x' }, copies: 1, reference: null, correlationId: 'c', expiresAt: new Date(Date.now() + 60_000)
      })))
    }
    // The activity statistics reach pg_stat_user_tables after the writing transaction
    // ends, at most about a second later on PostgreSQL.
    const refreshSoon = async (): Promise<boolean> => {
      for (let i = 0; i < 40; i++) {
        if (await refreshJobStatistics(open.db)) return true
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return false
    }

    t.equal(await refreshJobStatistics(open.db), false, 'an empty table is left alone')
    await addJobs(300)
    t.equal(await refreshSoon(), true, '300 jobs against no statistics: analyzed')
    t.equal(await analyzedRows(), 300, 'the statistics now count 300 jobs')
    t.equal(await refreshJobStatistics(open.db), false, 'and it does not run again at once')
    await addJobs(200)
    await new Promise((resolve) => setTimeout(resolve, 1200))
    t.equal(await refreshJobStatistics(open.db), false, '500 jobs against 300 analyzed: not yet doubled')
    await addJobs(200)
    t.equal(await refreshSoon(), true, '700 against 300: analyzed again')
    t.equal(await analyzedRows(), 700)
  })
}
