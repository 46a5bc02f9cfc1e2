import t, { type Test } from 'tap'
import { appendFile, mkdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Journal, JOURNAL_FILE, LAZY_FLUSH_MS } from '../../agent/journal.js'
import { decodeMessage, type PrintJobMessage } from '../../shared/messages.js'
import { printJob, testLogger } from './helpers/mqtt-fixture.js'

function job (text = 'Table 1'): PrintJobMessage {
  return decodeMessage('print-job', printJob({ text }).payload)
}

async function openJournal (t: Test, dir: string, options: { maxBytes?: number, now?: () => number } = {}): Promise<Journal> {
  const journal = new Journal({ dir, logger: testLogger(), ...options })
  await journal.start()
  t.teardown(() => journal.stop())
  return journal
}

t.test('records written before stop are there after reopening', async (t) => {
  const dir = t.testdir()
  const first = await openJournal(t, dir)
  const a = job('a')
  const b = job('b')
  await first.accept(a)
  await first.markPrinting(a.jobId)
  await first.settle(a.jobId, { state: 'printed', code: 200 })
  first.markReported(a.jobId)
  await first.accept(b)
  await first.stop()

  const second = await openJournal(t, dir)
  t.match(second.get(a.jobId), { phase: 'settled', outcome: { state: 'printed', code: 200 }, reported: true, correlationId: a.correlationId })
  t.notOk(second.get(a.jobId)?.job, 'content is dropped once settled')
  t.match(second.get(b.jobId), { phase: 'accepted', reported: false })
  t.same(second.get(b.jobId)?.job, b, 'an unstarted job keeps its content to print after a restart')
})

t.test('a torn last line is dropped and later appends stay readable', async (t) => {
  const dir = t.testdir()
  const first = await openJournal(t, dir)
  const a = job()
  await first.accept(a)
  await first.stop()
  await appendFile(join(dir, JOURNAL_FILE), '{"t":"printing","at":"2024-01-01T00:00:00.000Z","jobId":"' + a.jobId.slice(0, 10))

  const second = await openJournal(t, dir)
  t.equal(second.get(a.jobId)?.phase, 'accepted', 'the torn record is not applied')
  await second.settle(a.jobId, { state: 'failed', code: 410 })
  await second.stop()

  const third = await openJournal(t, dir)
  t.match(third.get(a.jobId), { phase: 'settled', outcome: { code: 410 } })
  const lines = (await readFile(join(dir, JOURNAL_FILE), 'utf8')).trimEnd().split('\n')
  t.ok(lines.every((line) => JSON.parse(line) !== null), 'every line in the file parses')
})

t.test('an unreadable line inside the journal is skipped, the rest is loaded', async (t) => {
  const dir = t.testdir()
  const first = await openJournal(t, dir)
  const a = job()
  await first.accept(a)
  await first.stop()
  await appendFile(join(dir, JOURNAL_FILE), 'garbage\n')
  const second = await openJournal(t, dir)
  t.equal(second.get(a.jobId)?.phase, 'accepted')
})

t.test('a job journaled as printing stays printing after a crash, for the agent to report unconfirmed', async (t) => {
  const dir = t.testdir()
  const first = await openJournal(t, dir)
  const a = job()
  await first.accept(a)
  await first.markPrinting(a.jobId)
  // No stop(): the records were fsync'ed, which is all a crash leaves.
  const second = new Journal({ dir, logger: testLogger() })
  await second.start()
  t.teardown(() => second.stop())
  t.equal(second.get(a.jobId)?.phase, 'printing')
})

t.test('compaction drops finished entries past retention and keeps unfinished ones', async (t) => {
  const dir = t.testdir()
  let clock = Date.parse('2024-05-01T12:00:00Z')
  const journal = await openJournal(t, dir, { maxBytes: 64 * 1024, now: () => clock })
  const old = job('old')
  const unreported = job('unreported')
  const pending = job('pending')
  await journal.accept(old)
  await journal.settle(old.jobId, { state: 'printed', code: 200 })
  journal.markReported(old.jobId)
  await journal.accept(unreported)
  await journal.settle(unreported.jobId, { state: 'printed', code: 200 })
  await journal.accept(pending)

  clock += 49 * 60 * 60 * 1000
  const recent = job('recent')
  await journal.accept(recent)
  const before = (await stat(journal.path)).size
  await journal.compact()

  t.equal(journal.get(old.jobId), undefined, 'finished and older than 48 h: gone')
  t.ok(journal.get(unreported.jobId), 'outcome not yet acknowledged: kept')
  t.ok(journal.get(pending.jobId), 'not printed yet: kept')
  t.ok(journal.get(recent.jobId), 'recent: kept')
  t.ok((await stat(journal.path)).size < before, 'the file shrank')

  journal.markReported(unreported.jobId)
  await journal.stop()
  const reopened = await openJournal(t, dir)
  t.match(reopened.get(unreported.jobId), { reported: true })
  t.same(reopened.get(pending.jobId)?.job, pending)
  t.equal(reopened.get(old.jobId), undefined)
})

t.test('the journal compacts itself when it grows past maxBytes', async (t) => {
  const dir = t.testdir()
  let clock = Date.parse('2024-05-01T12:00:00Z')
  const journal = await openJournal(t, dir, { maxBytes: 4096, now: () => clock })
  const ids: string[] = []
  for (let i = 0; i < 60; i++) {
    const j = job(`ticket ${i}`)
    ids.push(j.jobId)
    await journal.accept(j)
    await journal.settle(j.jobId, { state: 'printed', code: 200 })
    journal.markReported(j.jobId)
    clock += 3 * 60 * 60 * 1000
  }
  t.equal(journal.get(ids[0] ?? ''), undefined, 'the first job, 180 h old, was compacted away')
  t.ok(journal.get(ids[59] ?? ''), 'the last job is kept')
  t.ok(journal.entries().length < 60)
  await journal.compacted()
  t.equal((await stat(journal.path)).size, journal.sizeBytes, 'the size it tracks is the file size')
})

/** `count` finished jobs in one write. */
async function fill (journal: Journal, count: number): Promise<string[]> {
  const records = []
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const j = job(`ticket ${i}`)
    ids.push(j.jobId)
    const at = new Date().toISOString()
    records.push({ t: 'accepted' as const, at, jobId: j.jobId, printerId: j.printerId, correlationId: j.correlationId, job: j },
      { t: 'outcome' as const, at, jobId: j.jobId, outcome: { state: 'printed' as const, code: 200 } }, { t: 'reported' as const, at, jobId: j.jobId })
  }
  await journal.append(records)
  return ids
}

t.test('appends during a compaction are not held up by it, and are in the compacted file', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  const old = await fill(journal, 5000)
  const order: string[] = []
  const compaction = journal.compact().then(() => { order.push('compaction done') })
  const during = job('during')
  await journal.accept(during).then(() => { order.push('accept done') })
  t.equal(await journal.markPrinting(during.jobId), true)
  await compaction
  t.same(order, ['accept done', 'compaction done'], 'the append finished while the compaction was copying')
  await journal.settle(during.jobId, { state: 'printed', code: 200 })
  t.equal((await stat(journal.path)).size, journal.sizeBytes, 'the size it tracks is the file size')
  await journal.stop()

  const reopened = await openJournal(t, dir)
  t.equal(reopened.entries().length, 5001, 'every job is there once')
  t.match(reopened.get(during.jobId), { phase: 'settled', outcome: { state: 'printed' } }, 'the records written during the compaction and after it')
  t.match(reopened.get(old[4999] ?? ''), { phase: 'settled', reported: true })
})

t.test('stop during a compaction waits for it; the journal is whole after reopening', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  await fill(journal, 3000)
  const compaction = journal.compact()
  const last = job('last')
  const accepted = journal.accept(last)
  await journal.stop()
  await compaction
  await accepted
  const reopened = await openJournal(t, dir)
  t.equal(reopened.entries().length, 3001)
  t.match(reopened.get(last.jobId), { phase: 'accepted' })
})

t.test('a compaction that fails does not fail the write that started it; it is tried again later', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir, { maxBytes: 4096 })
  // The temporary file cannot be created: a directory stands at its path.
  await mkdir(join(dir, `${JOURNAL_FILE}.tmp`))
  const first = await fill(journal, 20)
  const accepted = job('accepted after the failure')
  await journal.accept(accepted)
  await journal.compacted()
  const grown = (await stat(journal.path)).size
  t.ok(grown > 4096, 'nothing was compacted')
  t.equal(grown, journal.sizeBytes)

  await rm(join(dir, `${JOURNAL_FILE}.tmp`), { recursive: true })
  await fill(journal, 20)
  await journal.compacted()
  t.notOk((await readFile(journal.path, 'utf8')).includes('ticket 0'), 'compacted once more had been written (a settled job keeps no content)')
  await journal.stop()
  const reopened = await openJournal(t, dir)
  t.equal(reopened.entries().length, 41)
  t.match(reopened.get(first[0] ?? ''), { phase: 'settled' })
  t.match(reopened.get(accepted.jobId), { phase: 'accepted' })
})

t.test('appending after stop fails with a clear error', async (t) => {
  const journal = await openJournal(t, t.testdir())
  await journal.stop()
  await t.rejects(journal.accept(job()), { code: 'PRINTMQ_AGENT_JOURNAL_CLOSED' })
  await journal.stop()
})

t.test('a cancel settles a job that has not started printing, and loses to one that has', async (t) => {
  const dir = t.testdir()
  const first = await openJournal(t, dir)
  const canceled = { state: 'canceled' as const, code: 540, detail: 'canceled before it printed' }
  const waiting = job('waiting')
  const printing = job('printing')
  const unseen = job('unseen')
  await first.accept(waiting)
  await first.accept(printing)
  t.equal(await first.markPrinting(printing.jobId), true, 'printing may start on an accepted job')

  t.equal(await first.cancel(waiting, canceled), 'accepted')
  t.match(first.get(waiting.jobId), { phase: 'settled', outcome: canceled })
  t.equal(await first.markPrinting(waiting.jobId), false, 'a canceled job never starts printing')
  t.equal(await first.settle(waiting.jobId, { state: 'expired', code: 520 }), false, 'a later outcome does not replace the cancel')

  t.equal(await first.cancel(printing, canceled), 'printing', 'too late once printing')
  t.match(first.get(printing.jobId), { phase: 'printing' })
  t.equal(await first.settle(printing.jobId, { state: 'printed', code: 200 }), true, 'its real outcome is recorded')

  t.equal(await first.cancel(unseen, canceled), 'unknown')
  t.match(first.get(unseen.jobId), { phase: 'settled', outcome: canceled, printerId: unseen.printerId })
  await first.accept(unseen)
  t.match(first.get(unseen.jobId), { phase: 'settled', outcome: canceled }, 'the job arriving after its cancel stays canceled')
  t.equal(await first.cancel(unseen, canceled), 'settled', 'a second cancel writes nothing')
  await first.stop()

  const second = await openJournal(t, dir)
  t.match(second.get(waiting.jobId), { phase: 'settled', outcome: canceled })
  t.match(second.get(printing.jobId), { phase: 'settled', outcome: { state: 'printed' } })
  t.match(second.get(unseen.jobId), { phase: 'settled', outcome: canceled })
  t.notOk(second.get(unseen.jobId)?.job, 'no content to print after a restart')
})

t.test('an acknowledged outcome is written with the next record, or on its own within LAZY_FLUSH_MS, without an fsync of its own', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  const a = job('a')
  await journal.accept(a)
  await journal.settle(a.jobId, { state: 'printed', code: 200 })
  journal.markReported(a.jobId)
  t.match(journal.get(a.jobId), { reported: true }, 'known in memory at once')
  const reportedLines = async (): Promise<number> => (await readFile(join(dir, JOURNAL_FILE), 'utf8')).split('\n').filter((line) => line.includes('"t":"reported"')).length
  t.equal(await reportedLines(), 0, 'not written on its own yet')
  const b = job('b')
  await journal.accept(b)
  t.equal(await reportedLines(), 1, 'written with the next record (before it, in one write)')

  await journal.settle(b.jobId, { state: 'printed', code: 200 })
  journal.markReported(b.jobId)
  await new Promise((resolve) => setTimeout(resolve, LAZY_FLUSH_MS + 300))
  t.equal(await reportedLines(), 2, 'written within LAZY_FLUSH_MS when nothing else is')

  // A crash before either happens loses only the acknowledgement: the agent reports again.
  const c = job('c')
  await journal.accept(c)
  await journal.settle(c.jobId, { state: 'printed', code: 200 })
  journal.markReported(c.jobId)
  const crashed = await openJournal(t, dir)
  t.match(crashed.get(c.jobId), { phase: 'settled', reported: false }, 'after a crash: settled, to be reported again')
  t.match(crashed.get(a.jobId), { reported: true })
})

t.test('an outcome settled with the next write goes to the file with the next job\'s printing record and resolves only then', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  const lines = async (): Promise<string[]> => (await readFile(join(dir, JOURNAL_FILE), 'utf8')).trim().split('\n').map((line) => `${JSON.parse(line).t as string} ${JSON.parse(line).jobId as string}`)
  const a = job('a')
  const b = job('b')
  await journal.accept(a)
  await journal.accept(b)
  await journal.markPrinting(a.jobId)
  let durable = false
  const settled = journal.settleWithNextWrite(a.jobId, { state: 'printed', code: 200 }).then((result) => { durable = true; return result })
  t.match(journal.get(a.jobId), { phase: 'settled' }, 'settled in memory at once')
  t.notOk((await lines()).includes(`outcome ${a.jobId}`), 'not in the file yet')
  t.equal(durable, false, 'not resolved before it is in the file')

  // A crash now: the file still says printing, so the restart reports unconfirmed, and
  // nothing was published that the file does not hold.
  const crashed = new Journal({ dir, logger: testLogger() })
  await crashed.start()
  t.match(crashed.get(a.jobId), { phase: 'printing' })
  await crashed.stop()

  t.equal(await journal.markPrinting(b.jobId), true)
  t.equal(await settled, true)
  t.same((await lines()).slice(-2), [`outcome ${a.jobId}`, `printing ${b.jobId}`], 'one write: the outcome, then the next job\'s printing')
})

t.test('an outcome settled with the next write is written on its own (within OUTCOME_FLUSH_MS) when no other write comes', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  const a = job('a')
  await journal.accept(a)
  await journal.markPrinting(a.jobId)
  t.equal(await journal.settleWithNextWrite(a.jobId, { state: 'failed', code: 410, detail: 'paper out' }), true)
  const again = new Journal({ dir, logger: testLogger() })
  await again.start()
  t.match(again.get(a.jobId), { phase: 'settled', outcome: { state: 'failed', code: 410 } })
  await again.stop()
})

t.test('only a printing job is settled with the next write: one not yet printing is left alone', async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  const a = job('a')
  await journal.accept(a)
  t.equal(await journal.settleWithNextWrite(a.jobId, { state: 'expired', code: 520 }), false)
  t.match(journal.get(a.jobId), { phase: 'accepted' })
  t.equal(await journal.settleWithNextWrite('no-such-job', { state: 'printed', code: 200 }), false)
})

t.test('on Linux the journal is opened with O_DSYNC: every write is on disk when it returns', { skip: process.platform !== 'linux' ? 'reads /proc/self/fdinfo' : false }, async (t) => {
  const dir = t.testdir()
  const journal = await openJournal(t, dir)
  await journal.accept(job('dsync'))
  const { readdir, readlink } = await import('node:fs/promises')
  const { constants } = await import('node:fs')
  let flags: number | null = null
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (target !== journal.path) continue
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8')
    flags = Number.parseInt(/flags:\s+([0-7]+)/.exec(info)?.[1] ?? '0', 8)
  }
  t.not(flags, null, 'the journal file is open')
  t.ok(((flags ?? 0) & constants.O_DSYNC) !== 0, 'O_DSYNC is set')
  t.ok(((flags ?? 0) & constants.O_APPEND) !== 0, 'O_APPEND is set')
})
