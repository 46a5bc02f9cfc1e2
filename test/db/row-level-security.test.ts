/**
 * Row-level security, proved on PGlite and PostgreSQL: no tenant means no rows, one
 * tenant never sees another's, and a pooled stress run with injected errors and
 * timeouts leaks nothing. A catalog check keeps FORCE on every tenant table and the
 * runtime role unable to bypass it.
 */
import { randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { openDatabase } from '../../api/db/database.js'
import { RUNTIME_ROLE, TENANT_TABLE_NAMES } from '../../api/db/migrations.js'
import type { Database } from '../../api/db/schema.js'
import { withTenant } from '../../api/db/tenant-scope.js'
import { applyResults, insertJobsForPrinters, markManyDispatched } from '../../api/db/jobs-repository.js'
import { newId } from '../../shared/ids.js'
import { testDatabases } from '../helpers/databases.js'
import { openTestDatabase, seedTenant } from './fixtures.js'

/** Tenant ids of every row of every tenant table visible in `trx`. */
async function visibleTenants (trx: Kysely<Database>): Promise<string[]> {
  const seen: string[] = []
  for (const table of TENANT_TABLE_NAMES) {
    const column = table === 'tenants' ? 'id' : 'tenant_id'
    const result = await sql<{ tenant: string }>`select ${sql.ref(column)} as tenant from ${sql.table(table)}`.execute(trx)
    seen.push(...result.rows.map((r) => r.tenant))
  }
  return seen
}

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const location = await database.create(t)
    const open = await openTestDatabase(t, location, 8)
    const tenants = Array.from({ length: 12 }, (_, i) => `tenant${i}`)
    for (const tenant of tenants) await seedTenant(open, tenant)

    await t.test('a query without a tenant sees no rows', async (t) => {
      const seen = await open.db.transaction().execute(async (trx) => {
        await sql`select set_config('role', ${RUNTIME_ROLE}, true)`.execute(trx)
        return await visibleTenants(trx)
      })
      t.same(seen, [])
    })

    await t.test('a query for one tenant sees only its rows in every table', async (t) => {
      for (const tenant of tenants.slice(0, 3)) {
        const seen = await withTenant(open.db, tenant, (trx) => visibleTenants(trx))
        t.ok(seen.length >= TENANT_TABLE_NAMES.length, `${tenant} sees its own rows (${seen.length})`)
        t.same([...new Set(seen)], [tenant], `${tenant} sees no other tenant`)
      }
    })

    await t.test('a write for another tenant is refused', async (t) => {
      await t.rejects(withTenant(open.db, 'tenant0', (trx) => trx.insertInto('branches').values({ tenant_id: 'tenant1', id: 'sneaky', name: null }).execute()))
      const updated = await withTenant(open.db, 'tenant0', (trx) => trx.updateTable('print_jobs').set({ copies: 9 }).where('tenant_id', '=', 'tenant1').executeTakeFirst())
      t.equal(updated.numUpdatedRows, 0n, 'no foreign row is updated')
    })

    await t.test('the one-statement write functions (migration 0006) touch only the tenant they are called for', async (t) => {
      // Connection as the owner (a superuser on PGlite and here): the functions scope themselves.
      const [foreign] = await withTenant(open.db, 'tenant1', (trx) => trx.selectFrom('print_jobs').selectAll().limit(1).execute())
      t.ok(foreign, 'tenant1 has a job')
      const inserted = await insertJobsForPrinters(open.db, 'tenant0', [{
        id: newId(), branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'x' }, copies: 1, reference: null, correlationId: 'c', expiresAt: new Date(Date.now() + 60_000)
      }])
      t.equal(inserted[0]?.tenant_id, 'tenant0', 'a job is written for the tenant called for, with its own printer')
      t.equal(inserted[0]?.agent_id, 'a1')
      const marked = await markManyDispatched(open.db, 'tenant0', [foreign!.id])
      t.same(marked, [], 'another tenant\'s job is not marked dispatched')
      const outcomes = await applyResults(open.db, 'tenant0', [{
        jobId: foreign!.id, branchId: 'b1', agentId: 'a1', to: 'failed', correlationId: 'c', code: 500, detail: null, detailIfCanceled: null
      }])
      t.same(outcomes, [{ kind: 'not-found' }], 'a result for another tenant\'s job is not applied')
      const after = await withTenant(open.db, 'tenant1', (trx) => trx.selectFrom('print_jobs').selectAll().where('id', '=', foreign!.id).executeTakeFirst())
      t.equal(after?.state, foreign!.state, 'the foreign job is unchanged')
      const events = await withTenant(open.db, 'tenant1', (trx) => trx.selectFrom('job_events').selectAll().where('job_id', '=', foreign!.id).execute())
      t.equal(events.length, 1, 'and has no new event')
      const role = await open.db.connection().execute(async (connection) => {
        await markManyDispatched(connection, 'tenant0', [foreign!.id])
        return (await sql<{ role: string, tenant: string | null }>`select current_user as role, current_setting('printmq.tenant', true) as tenant`.execute(connection)).rows[0]
      })
      t.not(role?.role, RUNTIME_ROLE, 'the role switch ends with the statement, on the same connection')
      t.notOk(role?.tenant, 'and so does the tenant scope')
    })

    await t.test('printmq_agent_login (migration 0008) answers for the tenant it is called for, in one statement', async (t) => {
      const login = async (db: Kysely<Database>, tenant: string, agent: string): Promise<Array<{ license_hash: string, revoked_at: Date | null, printer_id: string | null }>> =>
        (await sql<{ license_hash: string, revoked_at: Date | null, printer_id: string | null }>`select * from printmq_agent_login(${tenant}, 'b1', ${agent})`.execute(db)).rows
      t.same(await login(open.db, 'tenant0', 'a1'), [{ license_hash: 'hash-tenant0', revoked_at: null, printer_id: 'p1' }], 'its own agent, with its printer')
      t.same(await login(open.db, 'tenant1', 'a1'), [{ license_hash: 'hash-tenant1', revoked_at: null, printer_id: 'p1' }], 'the same agent id in another tenant is that tenant\'s')
      t.same(await login(open.db, 'tenant0', 'nobody'), [], 'no row for an unknown agent')
      const after = await open.db.connection().execute(async (connection) => {
        await login(connection, 'tenant0', 'a1')
        return (await sql<{ role: string, tenant: string | null }>`select current_user as role, current_setting('printmq.tenant', true) as tenant`.execute(connection)).rows[0]
      })
      t.not(after?.role, RUNTIME_ROLE, 'the role switch ends with the statement')
      t.notOk(after?.tenant, 'and so does the tenant scope')
    })

    await t.test('printmq_apply_results takes several results of one job in one call, each against the state the ones before it left', async (t) => {
      const [job] = await insertJobsForPrinters(open.db, 'tenant0', [{
        id: newId(), branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'x' }, copies: 1, reference: null, correlationId: 'c', expiresAt: new Date(Date.now() + 60_000)
      }])
      const result = (to: 'accepted' | 'printed' | 'failed', code: number) => ({ jobId: job!.id, branchId: 'b1', agentId: 'a1', to, correlationId: 'c', code, detail: null, detailIfCanceled: null })
      const calls: string[] = []
      const counted = open.db.withPlugin({
        transformQuery: (args) => { calls.push(args.node.kind); return args.node },
        transformResult: async (args) => args.result
      })
      const outcomes = await applyResults(counted, 'tenant0', [result('accepted', 202), result('printed', 200), result('failed', 500), result('accepted', 202)])
      t.same(outcomes.map((o) => o.kind), ['applied', 'applied', 'ignored', 'ignored'])
      t.same(outcomes.map((o) => o.kind === 'not-found' ? null : o.state), ['accepted', 'printed', 'printed', 'printed'], 'each sees the state the one before it left')
      t.equal(calls.length, 1, 'one statement for the four')
      const stored = await withTenant(open.db, 'tenant0', (trx) => trx.selectFrom('print_jobs').selectAll().where('id', '=', job!.id).executeTakeFirstOrThrow())
      t.equal(stored.state, 'printed')
      t.equal(stored.result_code, 200)
      const events = await withTenant(open.db, 'tenant0', (trx) => trx.selectFrom('job_events').select(['state', 'ignored']).where('job_id', '=', job!.id).orderBy('id').execute())
      t.same(events, [
        { state: 'queued', ignored: false }, { state: 'accepted', ignored: false }, { state: 'printed', ignored: false },
        { state: 'failed', ignored: true }, { state: 'accepted', ignored: true }
      ], 'every result is in the history, the late ones as ignored')
    })

    await t.test('dispatched and accepted-only batches commit without waiting for the WAL flush; the job and final states wait for it', async (t) => {
      const newJob = async (): Promise<string> => {
        const [job] = await insertJobsForPrinters(open.db, 'tenant0', [{
          id: newId(), branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'x' }, copies: 1, reference: null, correlationId: 'c', expiresAt: new Date(Date.now() + 60_000)
        }])
        return job!.id
      }
      const result = (jobId: string, to: 'accepted' | 'printed', code: number) => ({ jobId, branchId: 'b1', agentId: 'a1', to, correlationId: 'c', code, detail: null, detailIfCanceled: null })
      // Each statement inside a transaction, to read the setting its commit would use.
      const commitMode = async (statement: (trx: Kysely<Database>) => Promise<unknown>): Promise<string | undefined> => await open.db.transaction().execute(async (trx) => {
        await statement(trx)
        return (await sql<{ mode: string }>`select current_setting('synchronous_commit') as mode`.execute(trx)).rows[0]?.mode
      })
      t.equal(await commitMode(async (trx) => await insertJobsForPrinters(trx, 'tenant0', [{
        id: newId(), branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'x' }, copies: 1, reference: null, correlationId: 'c', expiresAt: new Date(Date.now() + 60_000)
      }])), 'on', 'a new job waits for the flush')
      const id = await newJob()
      t.equal(await commitMode(async (trx) => await markManyDispatched(trx, 'tenant0', [id])), 'off', 'dispatched does not')
      await markManyDispatched(open.db, 'tenant0', [id])
      t.equal(await commitMode(async (trx) => await applyResults(trx, 'tenant0', [result(id, 'accepted', 202)])), 'off', 'accepted alone does not')
      t.equal(await commitMode(async (trx) => await applyResults(trx, 'tenant0', [result(id, 'accepted', 202), result(id, 'printed', 200)])), 'on', 'a batch with a final state does')
      t.equal(await commitMode(async (trx) => await applyResults(trx, 'tenant0', [result(id, 'printed', 200)])), 'on')
      // Outside a transaction the setting ends with the statement's own transaction.
      const another = await newJob()
      const after = await open.db.connection().execute(async (connection) => {
        await markManyDispatched(connection, 'tenant0', [another])
        return (await sql<{ mode: string }>`select current_setting('synchronous_commit') as mode`.execute(connection)).rows[0]?.mode
      })
      t.equal(after, 'on', 'the pooled connection keeps synchronous commits')
    })

    await t.test('concurrent tenants on a pool with injected errors and timeouts see zero foreign rows', async (t) => {
      let foreign = 0
      let reads = 0
      let injected = 0
      const operations = Array.from({ length: 600 }, async (_, i) => {
        const tenant = tenants[i % tenants.length] as string
        try {
          await withTenant(open.db, tenant, async (trx) => {
            const seen = await visibleTenants(trx)
            reads++
            foreign += seen.filter((s) => s !== tenant).length
            if (i % 7 === 0) throw new Error('injected failure')
            if (i % 11 === 0) {
              await sql`set local statement_timeout = 1`.execute(trx)
              await sql`select pg_sleep(0.05)`.execute(trx)
            }
          })
        } catch {
          injected++
        }
      })
      await Promise.all(operations)
      t.comment(`${reads} scoped reads, ${injected} transactions failed by injection`)
      t.equal(reads, 600)
      t.ok(injected >= 600 / 7, 'errors and timeouts were injected')
      t.equal(foreign, 0, 'zero foreign rows')
      const after = await open.db.transaction().execute(async (trx) => {
        await sql`select set_config('role', ${RUNTIME_ROLE}, true)`.execute(trx)
        return await visibleTenants(trx)
      })
      t.same(after, [], 'no tenant setting survived on a pooled connection')
    })

    await t.test('every tenant table has FORCE row-level security and the runtime role cannot bypass it', async (t) => {
      const tables = await sql<{ relname: string, relrowsecurity: boolean, relforcerowsecurity: boolean, owner: string }>`
        select c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) as owner
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r'`.execute(open.db)
      const withTenantColumn = await sql<{ table_name: string }>`
        select table_name from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id'`.execute(open.db)
      t.same(new Set(withTenantColumn.rows.map((r) => r.table_name).concat('tenants')), new Set(TENANT_TABLE_NAMES), 'every table with a tenant column is a guarded tenant table')
      for (const name of TENANT_TABLE_NAMES) {
        const row = tables.rows.find((r) => r.relname === name)
        t.ok(row?.relrowsecurity === true && row.relforcerowsecurity === true, `${name}: RLS enabled and forced`)
        t.not(row?.owner, RUNTIME_ROLE, `${name} is not owned by the runtime role`)
      }
      const role = await sql<{ rolsuper: boolean, rolbypassrls: boolean, rolcanlogin: boolean }>`
        select rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = ${RUNTIME_ROLE}`.execute(open.db)
      t.same(role.rows, [{ rolsuper: false, rolbypassrls: false, rolcanlogin: false }], 'runtime role: not superuser, no BYPASSRLS, no login')
      const owners = [...new Set(tables.rows.filter((r) => TENANT_TABLE_NAMES.includes(r.relname)).map((r) => r.owner))]
      for (const owner of owners) {
        const member = await sql<{ member: boolean }>`select pg_has_role(${RUNTIME_ROLE}, ${owner}, 'MEMBER') as member`.execute(open.db)
        t.equal(member.rows[0]?.member, false, `the runtime role is not a member of the owner ${owner}`)
      }
    })

    if (location.kind === 'postgres') {
      await t.test('a login role granted only the runtime role sees its tenant and nothing without one', async (t) => {
        const login = `printmq_app_${randomBytes(4).toString('hex')}`
        const password = randomBytes(12).toString('hex')
        await sql`create role ${sql.raw(login)} login password ${sql.lit(password)} nosuperuser nobypassrls in role ${sql.raw(RUNTIME_ROLE)}`.execute(open.db)
        t.teardown(async () => { await sql`drop role if exists ${sql.raw(login)}`.execute(open.db) })
        const url = new URL(location.url)
        url.username = login
        url.password = password
        const app = await openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 2 })
        t.teardown(() => app.close())
        const direct = await app.db.transaction().execute((trx) => visibleTenants(trx))
        t.same(direct, [], 'without a tenant the login role reads no row of any tenant table')
        const own = await withTenant(app.db, 'tenant3', (trx) => visibleTenants(trx))
        t.same([...new Set(own)], ['tenant3'], 'with the runtime role it sees exactly its tenant')
        // The one-statement job writes (migration 0006) switch to the runtime role themselves.
        const [stored] = await insertJobsForPrinters(app.db, 'tenant3', [{
          id: newId(), branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'login role' }, copies: 1, reference: null, correlationId: 'c', expiresAt: new Date(Date.now() + 60_000)
        }])
        t.equal(stored?.tenant_id, 'tenant3', 'the login role stores a job through printmq_insert_jobs')
        t.equal((await markManyDispatched(app.db, 'tenant3', [stored!.id])).length, 1, 'and marks it dispatched')
        t.same(await applyResults(app.db, 'tenant3', [{ jobId: stored!.id, branchId: 'b1', agentId: 'a1', to: 'accepted', correlationId: 'c', code: 202, detail: null, detailIfCanceled: null }]).then((o) => o.map((x) => x.kind)), ['applied'], 'and applies a result')
        const check = new pg.Client({ connectionString: url.toString() })
        await check.connect()
        t.teardown(() => check.end())
        const flags = await check.query('select rolsuper, rolbypassrls from pg_roles where rolname = current_user')
        t.same(flags.rows, [{ rolsuper: false, rolbypassrls: false }], 'the login role is neither superuser nor BYPASSRLS')
      })
    }
  })
}
