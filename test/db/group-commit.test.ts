/**
 * GroupCommit's batching rules, with a runner that records its batches: items arriving
 * while a batch runs go together in the next; tenants never share a batch; a lingering
 * item waits for company, and an item that does not linger takes it along at once; a
 * failed batch is retried item by item. (Its use on real databases: result-batching and
 * submit-batching tests.)
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { GroupCommit, ItemFailure } from '../../api/db/group-commit.js'

interface Recorder {
  readonly batches: Array<{ tenant: string, items: string[] }>
  readonly commit: GroupCommit<string, string>
  /** Let the batch that is running finish. */
  release: () => void
}

/** A GroupCommit whose batches finish only when released (`hold`), or at once. */
function recorder (hold: boolean, fail: (item: string, batchSize: number) => boolean = () => false): Recorder {
  const gates: Array<() => void> = []
  const batches: Array<{ tenant: string, items: string[] }> = []
  const commit = new GroupCommit<string, string>(async (tenant, items) => {
    batches.push({ tenant, items: [...items] })
    if (hold) await new Promise<void>((resolve) => { gates.push(resolve) })
    if (items.some((item) => fail(item, items.length))) throw new Error('batch failed')
    return items.map((item) => item.startsWith('bad') ? new ItemFailure(new Error(`${item} refused`)) : `${tenant}:${item}:done`)
  })
  return { batches, commit, release: () => { gates.shift()?.() } }
}

async function until (check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s')
    await sleep(5)
  }
}

t.test('the first item goes at once; those arriving meanwhile go together next', async (t) => {
  const r = recorder(true)
  const first = r.commit.submit('t1', 'a')
  const rest = ['b', 'c', 'd'].map(async (item) => await r.commit.submit('t1', item))
  const other = r.commit.submit('t2', 'x')
  await until(() => r.batches.length === 2)
  t.same(r.batches, [{ tenant: 't1', items: ['a'] }, { tenant: 't2', items: ['x'] }], 'one batch per tenant, the first item alone')
  r.release()
  t.equal(await first, 't1:a:done')
  await until(() => r.batches.length === 3)
  t.same(r.batches[2], { tenant: 't1', items: ['b', 'c', 'd'] }, 'the items that waited go in one batch')
  r.release(); r.release()
  t.same(await Promise.all(rest), ['t1:b:done', 't1:c:done', 't1:d:done'])
  t.equal(await other, 't2:x:done')
})

t.test('a lingering item waits for company; an item that does not linger takes it along', async (t) => {
  const r = recorder(false)
  const accepted = r.commit.submit('t1', 'accepted-1', 60_000)
  const accepted2 = r.commit.submit('t1', 'accepted-2', 60_000)
  await sleep(50)
  t.same(r.batches, [], 'nothing runs while only lingering items wait')
  const printed = r.commit.submit('t1', 'printed-1')
  t.same(await Promise.all([accepted, accepted2, printed]), ['t1:accepted-1:done', 't1:accepted-2:done', 't1:printed-1:done'])
  t.same(r.batches, [{ tenant: 't1', items: ['accepted-1', 'accepted-2', 'printed-1'] }], 'one batch, in arrival order')
})

t.test('a lingering item alone runs when its time is up', async (t) => {
  const r = recorder(false)
  const started = Date.now()
  t.equal(await r.commit.submit('t1', 'accepted-1', 30), 't1:accepted-1:done')
  t.ok(Date.now() - started >= 25, 'it waited for company first')
  t.same(r.batches, [{ tenant: 't1', items: ['accepted-1'] }])
})

t.test('lingering items that arrive while a batch runs wait for their own time, not longer', async (t) => {
  const r = recorder(true)
  const first = r.commit.submit('t1', 'printed-0')
  await until(() => r.batches.length === 1)
  const lingering = r.commit.submit('t1', 'accepted-1', 40)
  r.release()
  await first
  await until(() => r.batches.length === 2)
  r.release()
  t.equal(await lingering, 't1:accepted-1:done')
  t.same(r.batches[1], { tenant: 't1', items: ['accepted-1'] })
})

t.test('a failed batch is retried item by item: one bad item fails alone', async (t) => {
  const r = recorder(false, (item, size) => item === 'poison' && size > 1)
  const outcomes = await Promise.allSettled([
    r.commit.submit('t1', 'a', 60_000),
    r.commit.submit('t1', 'poison', 60_000),
    r.commit.submit('t1', 'bad-1', 60_000),
    r.commit.submit('t1', 'b')
  ])
  t.same(outcomes.map((o) => o.status === 'fulfilled' ? o.value : (o.reason as Error).message), ['t1:a:done', 't1:poison:done', 'bad-1 refused', 't1:b:done'])
  t.same(r.batches.map((b) => b.items), [['a', 'poison', 'bad-1', 'b'], ['a'], ['poison'], ['bad-1'], ['b']])
})
