/**
 * Scenario: the agent journal's compaction and a job that arrives during it. For each
 * size, a journal in a temporary directory holds that many finished jobs (a kitchen
 * ticket's content each, as the agent journals them); then, three times: a compaction
 * alone, and a compaction with one job journaled (`accept`, one synced write) right
 * after it started. Reports the compaction's time and how long that job's write took,
 * against the same write with no compaction running.
 *
 *   npm run bench -- journal-compaction [--jobs 1200,10000] [--repeat 3]
 *
 * 1,200 finished jobs are about 1 MiB of journal (the default compaction threshold).
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Journal } from '../agent/journal.js'
import type { JournalRecord } from '../agent/journal-records.js'
import { createLogger } from '../shared/logger.js'
import { newId } from '../shared/ids.js'
import { decodeMessage, encodeMessage, type PrintJobMessage } from '../shared/messages.js'
import { report } from './lib/report.js'
import { percentile, round } from './lib/stats.js'

let tickets = 0

/** A kitchen ticket as the server sends it (the end-to-end scenario's text). */
function ticket (): PrintJobMessage {
  const payload = encodeMessage('print-job', newId(), {
    jobId: randomUUID(),
    printerId: 'p1',
    content: { type: 'text', text: `Table 12\n2x Burger\n1x Fries\n1x Cola\n-----\nOrder #${++tickets}` },
    copies: 1,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString()
  })
  return decodeMessage('print-job', payload)
}

async function fill (journal: Journal, count: number): Promise<void> {
  const records: JournalRecord[] = []
  for (let i = 0; i < count; i++) {
    const job = ticket()
    const at = new Date().toISOString()
    records.push({ t: 'accepted', at, jobId: job.jobId, printerId: job.printerId, correlationId: job.correlationId, job },
      { t: 'printing', at, jobId: job.jobId }, { t: 'outcome', at, jobId: job.jobId, outcome: { state: 'printed', code: 200 } }, { t: 'reported', at, jobId: job.jobId })
  }
  await journal.append(records)
}

async function timed (operation: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await operation()
  return performance.now() - start
}

export async function run (args: Record<string, string>): Promise<void> {
  const sizes = (args.jobs ?? '1200,10000').split(',').map(Number)
  const repeat = Number(args.repeat ?? 3)
  const rows: Array<Record<string, unknown>> = []
  for (const size of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'printmq-bench-journal-'))
    const journal = new Journal({ dir, logger: createLogger({ level: 'warn' }), maxBytes: Number.MAX_SAFE_INTEGER })
    try {
      await journal.start()
      await fill(journal, size)
      const alone: number[] = []
      const withJob: number[] = []
      const write: number[] = []
      const writeDuring: number[] = []
      for (let i = 0; i < repeat; i++) {
        write.push(await timed(async () => { await journal.accept(ticket()) }))
        alone.push(await timed(async () => { await journal.compact() }))
        const start = performance.now()
        const compaction = journal.compact().then(() => performance.now() - start)
        writeDuring.push(await timed(async () => { await journal.accept(ticket()) }))
        withJob.push(await compaction)
      }
      rows.push({
        jobsKept: size,
        journalKiB: round(journal.sizeBytes / 1024, 0),
        compactionMs: round(percentile(alone, 50), 1),
        compactionWithJobMs: round(percentile(withJob, 50), 1),
        jobWriteMs: round(percentile(write, 50), 2),
        jobWriteDuringCompactionMs: round(percentile(writeDuring, 50), 2),
        jobWriteDuringCompactionMaxMs: round(Math.max(...writeDuring), 2)
      })
    } finally {
      await journal.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
  report('journal-compaction', { options: { jobs: sizes, repeat } }, rows)
}
