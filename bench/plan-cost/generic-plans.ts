/**
 * On an empty database (DATABASE_URL, migrated, one tenant `t` with printer `p1`): one
 * connection calls printmq_apply_results while the table holds 5 jobs, another then adds
 * jobs, and the first connection's calls are timed again. A plan kept from the first
 * calls that fits only a handful of rows shows as a cost per call that follows the
 * table's size. Run by run.sh (LABEL names the functions' version).
 */
import pg from 'pg'

const url = process.env.DATABASE_URL as string
const lifecycle = process.env.LIFECYCLE as string
const caller = new pg.Client(url)
const filler = new pg.Client(url)
await caller.connect()
await filler.connect()
await caller.query('set synchronous_commit = off')

async function insert (count: number): Promise<string[]> {
  const jobs = Array.from({ length: count }, () => ({
    id: crypto.randomUUID(), branch_id: 'b1', printer_id: 'p1', content: { type: 'text', text: 'x' }, copies: 1, correlation_id: 'c', expires_at: new Date(Date.now() + 86_400_000)
  }))
  await filler.query('select count(*) from printmq_insert_jobs($1, $2::jsonb, now(), false)', ['t', JSON.stringify(jobs)])
  return jobs.map((job) => job.id)
}

async function applyOne (id: string): Promise<void> {
  const items = [{ n: 0, job_id: id, branch_id: 'b1', agent_id: 'a1', to: 'accepted', correlation_id: 'c', code: 202 }]
  await caller.query('select count(*) from printmq_apply_results($1, $2::jsonb, now(), $3::jsonb)', ['t', JSON.stringify(items), lifecycle])
}

// Ten calls at 5 jobs: past the 5 custom plans after which PostgreSQL may keep a generic one.
for (const id of await insert(5)) { await applyOne(id); await applyOne(id) }
for (const added of [1000, 19_000, 80_000]) {
  const ids = (await insert(added)).slice(0, 200)
  const started = performance.now()
  for (const id of ids) await applyOne(id)
  const rows = (await filler.query('select count(*)::int as n from print_jobs')).rows[0].n as number
  console.log(`${process.env.LABEL ?? ''} plans made at 5 jobs, table now ${rows} jobs: ${((performance.now() - started) / ids.length).toFixed(3)} ms per single-result call`)
}
// What autovacuum does as a table grows: ANALYZE, which also drops plans kept for it.
await filler.query('analyze print_jobs')
const ids = (await insert(200))
const started = performance.now()
for (const id of ids) await applyOne(id)
console.log(`${process.env.LABEL ?? ''} after ANALYZE: ${((performance.now() - started) / ids.length).toFixed(3)} ms per single-result call`)
await caller.end()
await filler.end()
