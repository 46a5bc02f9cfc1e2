/**
 * The dispatcher on PGlite and PostgreSQL: the jobs table is the outbox, so several
 * dispatchers (server instances) on one database publish each job exactly once; a job
 * waits as `queued` while the broker is down; the sweep expires stale jobs; canceled
 * jobs are never published.
 */
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { openDatabase, type OpenDatabase } from '../../api/db/database.js'
import { cancelJob } from '../../api/db/job-queries.js'
import { findJob, listJobEvents } from '../../api/db/jobs-repository.js'
import { withTenant } from '../../api/db/tenant-scope.js'
import { Dispatcher } from '../../api/jobs/dispatcher.js'
import { JobChanges } from '../../api/jobs/job-changes.js'
import { createLogger } from '../../shared/logger.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase, seedTenant } from '../db/fixtures.js'
import { fakeMqtt, type FakeMqtt } from './fake-mqtt.js'

const silent = createLogger({ level: 'silent' })

function startDispatcher (t: Test, database: OpenDatabase, mqtt: FakeMqtt, changes = new JobChanges()): Dispatcher {
  // Long redispatch delays: within a test, any second publish of a job would be a duplicate.
  const dispatcher = new Dispatcher({ db: database.db, mqtt: mqtt.client, changes, logger: silent, sweepIntervalMs: 20, redispatchAfterSeconds: 600, unacceptedAfterSeconds: 600 })
  t.teardown(() => dispatcher.stop())
  return dispatcher
}

/** Resolves once `count` jobs reached `state` on `changes`. */
function untilStates (changes: JobChanges, state: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const stop = changes.onAny((change) => {
      if (change.state === state && ++seen === count) { stop(); resolve() }
    })
  })
}

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const location = await database.create(t)
    const first = await openTestDatabase(t, location)

    await t.test('two dispatchers on one database publish every job exactly once', async (t) => {
      // A second connection pool, as a second server instance would have (PGlite: the same engine).
      const second = location.kind === 'postgres' ? await openDatabase(location) : first
      if (second !== first) t.teardown(() => second.close())
      const jobs = []
      for (let i = 0; i < 6; i++) jobs.push(...await seedTenant(first, `race${i}`, 25))
      const changes = new JobChanges()
      const mqttA = fakeMqtt()
      const mqttB = fakeMqtt()
      const a = startDispatcher(t, first, mqttA, changes)
      const b = startDispatcher(t, second, mqttB, changes)
      const dispatched = untilStates(changes, 'dispatched', jobs.length)
      // Both instances are told about every job at once and both sweep.
      for (const job of jobs) { a.notify(job.tenant_id, job.id); b.notify(job.tenant_id, job.id) }
      a.start(); b.start()
      await dispatched
      await a.stop(); await b.stop()
      const published = [...mqttA.published, ...mqttB.published].map((p) => p.jobId)
      t.comment(`instance A published ${mqttA.published.length}, instance B ${mqttB.published.length}`)
      t.equal(published.length, jobs.length, 'one publish per job in total')
      t.equal(new Set(published).size, jobs.length, 'every job was published')
    })

    await t.test('a job waits queued while the broker is down and goes out when it is back', async (t) => {
      const [job] = await seedTenant(first, 'offline', 1)
      if (job === undefined) throw new Error('no job')
      const mqtt = fakeMqtt()
      mqtt.connected = false
      const changes = new JobChanges()
      const dispatcher = startDispatcher(t, first, mqtt, changes)
      dispatcher.start()
      dispatcher.notify(job.tenant_id, job.id)
      await dispatcher.stop()
      t.same(mqtt.published, [])
      t.equal((await withTenant(first.db, 'offline', (trx) => findJob(trx, job.id)))?.state, 'queued')
      mqtt.connected = true
      const dispatched = untilStates(changes, 'dispatched', 1)
      dispatcher.start()
      await dispatched
      t.same(mqtt.published.map((p) => p.jobId), [job.id])
    })

    await t.test('the sweep expires jobs past their deadline without publishing them', async (t) => {
      const [stale] = await seedTenant(first, 'stale', 1, -1)
      if (stale === undefined) throw new Error('no job')
      const mqtt = fakeMqtt()
      const changes = new JobChanges()
      const expired = untilStates(changes, 'expired', 1)
      startDispatcher(t, first, mqtt, changes).start()
      await expired
      const { job, events } = await withTenant(first.db, 'stale', async (trx) => ({ job: await findJob(trx, stale.id), events: await listJobEvents(trx, stale.id) }))
      t.equal(job?.state, 'expired')
      t.equal(job?.result_code, 520)
      t.same(events.map((e) => e.state), ['queued', 'expired'])
      t.notOk(mqtt.published.some((p) => p.jobId === stale.id), 'never published')
    })

    await t.test('a sweep whose statistics refresh fails still expires jobs', async (t) => {
      // Its own database: the function is dropped for this test only.
      const own = await openTestDatabase(t, await database.create(t))
      await sql`drop function printmq_refresh_job_statistics()`.execute(own.db)
      const [stale] = await seedTenant(own, 'stale', 1, -1)
      if (stale === undefined) throw new Error('no job')
      const changes = new JobChanges()
      const expired = untilStates(changes, 'expired', 1)
      startDispatcher(t, own, fakeMqtt(), changes).start()
      await expired
      t.equal((await withTenant(own.db, 'stale', async (trx) => await findJob(trx, stale.id)))?.state, 'expired')
    })

    await t.test('a published job past its deadline is left to its agent for the grace period', async (t) => {
      const [published, unpublished] = await seedTenant(first, 'grace', 2, -1)
      if (published === undefined || unpublished === undefined) throw new Error('no job')
      // The first went out to its agent before the deadline; the second never did.
      await withTenant(first.db, 'grace', (trx) => trx.updateTable('print_jobs').set({ state: 'dispatched', last_dispatched_at: new Date() }).where('id', '=', published.id).execute())
      const changes = new JobChanges()
      const expired: string[] = []
      changes.onAny((change) => { if (change.state === 'expired') expired.push(change.jobId) })
      const unpublishedExpired = untilStates(changes, 'expired', 1)
      const waiting = startDispatcher(t, first, fakeMqtt(), changes)
      waiting.start()
      await unpublishedExpired
      // A few more sweeps: the published job must stay with its agent.
      await new Promise((resolve) => setTimeout(resolve, 200))
      await waiting.stop()
      t.same(expired, [unpublished.id], 'only the never-published job expired at its deadline')
      t.equal((await withTenant(first.db, 'grace', (trx) => findJob(trx, published.id)))?.state, 'dispatched')

      const publishedExpired = untilStates(changes, 'expired', 1)
      const noGrace = new Dispatcher({ db: first.db, mqtt: fakeMqtt().client, changes, logger: silent, sweepIntervalMs: 20, redispatchAfterSeconds: 600, unacceptedAfterSeconds: 600, publishedExpiryGraceSeconds: 0 })
      t.teardown(() => noGrace.stop())
      noGrace.start()
      await publishedExpired
      t.same(expired, [unpublished.id, published.id], 'after the grace, the published job expires too')
    })

    await t.test('a canceled job is never published', async (t) => {
      const [job, other] = await seedTenant(first, 'cancel', 2)
      if (job === undefined || other === undefined) throw new Error('no job')
      const outcome = await withTenant(first.db, 'cancel', (trx) => cancelJob(trx, job.id, 'c-1'))
      t.equal(outcome.kind, 'canceled')
      const mqtt = fakeMqtt()
      const changes = new JobChanges()
      const dispatched = untilStates(changes, 'dispatched', 1)
      startDispatcher(t, first, mqtt, changes).start()
      await dispatched
      t.same(mqtt.published.map((p) => p.jobId), [other.id], 'only the other job went out')
    })

    await t.test('a cancel whose publish failed is sent by a later sweep', async (t) => {
      const [job] = await seedTenant(first, 'cancelretry', 1)
      if (job === undefined) throw new Error('no job')
      const outcome = await withTenant(first.db, 'cancelretry', (trx) => cancelJob(trx, job.id, 'c-2'))
      t.equal(outcome.kind, 'canceled')
      const mqtt = fakeMqtt()
      mqtt.connected = false
      const dispatcher = startDispatcher(t, first, mqtt)
      // The broker connection is down when the cancel is sent; the agent may still be
      // connected to its (external) broker and never come "online" again.
      await dispatcher.publishCancel(job)
      t.same(mqtt.published, [], 'nothing went out while disconnected')
      mqtt.connected = true
      dispatcher.start()
      const deadline = Date.now() + 10_000
      while (!mqtt.published.some((p) => p.jobId === job.id) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      t.same(mqtt.published.map((p) => p.jobId), [job.id], 'the cancel went out once the broker was back, and only once')
      await new Promise((resolve) => setTimeout(resolve, 100))
      t.equal(mqtt.published.length, 1, 'not sent again by later sweeps')
    })
  })
}
