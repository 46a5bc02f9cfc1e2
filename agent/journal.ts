/**
 * The agent's durable journal: append-only JSON lines in the state directory, each
 * write synced to disk (O_DSYNC, or FileHandle.sync where the platform lacks it) so a
 * record the agent acted on survives a power cut. Loaded at start into a Map keyed by
 * job id; that Map is what stops a job id from ever being printed twice (design §6).
 *
 * Crash safety: every batch of records is one write ending in `\n`. A crash mid-write
 * leaves a last line without its newline; `start()` drops it and truncates the file
 * there, so later appends never glue onto a torn line. Compaction writes a temporary
 * file, fsyncs it, renames it over the journal and fsyncs the directory, so a crash
 * leaves either the old or the new file, never half of one.
 *
 * Compaction does not hold up printing: the entries are copied to the temporary file
 * while appends go on to the journal as before; records appended meanwhile are also
 * copied to the temporary file, under the lock, just before it replaces the journal.
 * Only that last step (what was appended meanwhile, a sync, the rename) waits for
 * appends and makes them wait.
 */
import { constants } from 'node:fs'
import { mkdir, open, readFile, rename, rm, truncate, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../shared/logger.js'
import type { PrintJobMessage } from '../shared/messages.js'
import { JournalClosedError } from './errors.js'
import { applyRecord, parseRecord, recordsFor, serializeRecords, type JobPhase, type JournalEntry, type JournalRecord, type Outcome } from './journal-records.js'

/** Name of the journal file inside the state directory. */
export const JOURNAL_FILE = 'journal.jsonl'
/** Size past which the journal is compacted, in bytes. */
export const DEFAULT_MAX_BYTES = 1024 * 1024
/**
 * How long finished jobs are remembered, in ms. Jobs live at most 24 h (design §5), so
 * a job older than 48 h that is delivered again would be expired, never printed.
 */
export const DEFAULT_RETENTION_MS = 48 * 60 * 60 * 1000

/**
 * How the journal file is opened for appending. Where the platform has O_DSYNC (Linux,
 * macOS) every write returns only once its data is on disk, like a write followed by
 * fdatasync, in one system call and one trip through libuv's thread pool instead of two,
 * three times per job (docs/performance.md). Elsewhere each write is followed by
 * FileHandle.sync().
 */
const SYNCED_APPEND = constants.O_DSYNC !== undefined ? constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC : null

/** Open the journal for appending: synced writes where the platform has them. */
async function openForAppend (path: string): Promise<FileHandle> {
  return await open(path, SYNCED_APPEND ?? 'a')
}

/** Entries serialized per write while compacting (keeps each turn of the event loop short). */
const COMPACTION_CHUNK = 500

/** Write all of `data` at the handle's position. */
async function writeAll (handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length;) offset += (await handle.write(data, offset)).bytesWritten
}

/** At most this long before a record written lazily (see Journal.markReported) reaches the file, in ms. */
export const LAZY_FLUSH_MS = 1000
/** At most this long before an outcome recorded with {@link Journal.settleWithNextWrite} reaches the file, in ms. */
export const OUTCOME_FLUSH_MS = 20

/** Options of {@link Journal}. */
export interface JournalOptions {
  readonly dir: string
  /** Logger of the owner (the agent's, `component: 'agent'`). */
  readonly logger: Logger
  readonly maxBytes?: number
  readonly retentionMs?: number
  /** Clock, ms since the epoch; tests move it forward. */
  readonly now?: () => number
}

/** Durable record of every job this agent has seen. */
export class Journal {
  readonly #dir: string
  readonly #path: string
  readonly #log: Logger
  readonly #maxBytes: number
  readonly #retentionMs: number
  readonly #now: () => number
  readonly #entries = new Map<string, JournalEntry>()
  #handle: FileHandle | null = null
  /** Records already applied in memory that go to the file with the next write (see markReported). */
  #lazy: JournalRecord[] = []
  /** Callers waiting for the lazy records to be on disk (see settleWithNextWrite). */
  #lazyWaiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #lazyTimer: NodeJS.Timeout | null = null
  #lazyDueAt = Infinity
  #size = 0
  #compactAt = 0
  /** While a compaction copies the entries: what was appended since, for its new file. */
  #appendedDuringCompaction: Buffer[] | null = null
  /** The compaction running, if any (one at a time). */
  #compaction: Promise<void> | null = null
  /** Serialises appends and compaction: one file operation at a time. */
  #tail: Promise<unknown> = Promise.resolve()

  constructor (options: JournalOptions) {
    this.#dir = options.dir
    this.#path = join(options.dir, JOURNAL_FILE)
    this.#log = options.logger
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
    this.#retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS
    this.#now = options.now ?? Date.now
    this.#compactAt = this.#maxBytes
  }

  /** Path of the journal file. */
  get path (): string { return this.#path }

  /** Current size of the journal file, in bytes. */
  get sizeBytes (): number { return this.#size }

  /** Create the directory if needed, load the file, open it for appending. */
  async start (): Promise<void> {
    if (this.#handle !== null) return
    await mkdir(this.#dir, { recursive: true })
    await this.#load()
    this.#handle = await openForAppend(this.#path)
    if (this.#size > this.#maxBytes) await this.compact()
  }

  /** Close the file. Idempotent; waits for writes in progress. */
  async stop (): Promise<void> {
    const handle = this.#handle
    if (handle === null) return
    this.#clearLazyTimer()
    if (this.#lazy.length > 0) await this.append([]).catch((err: unknown) => { this.#log.warn({ err }, 'journal write failed') })
    await this.#compaction?.catch(() => {})
    await this.#tail.catch(() => {})
    this.#handle = null
    await handle.close()
  }

  /** The entry of one job. */
  get (jobId: string): JournalEntry | undefined {
    return this.#entries.get(jobId)
  }

  /** Every entry, oldest first. */
  entries (): JournalEntry[] {
    return [...this.#entries.values()]
  }

  /** Record a job as accepted (with its content, to print it after a restart). */
  async accept (job: PrintJobMessage): Promise<void> {
    await this.append([this.#accepted(job.jobId, job.printerId, job.correlationId, job)])
  }

  /** Record a job that was settled on arrival (e.g. already expired), in one write. */
  async acceptSettled (ids: { jobId: string, printerId: string, correlationId: string }, outcome: Outcome): Promise<void> {
    await this.append([this.#accepted(ids.jobId, ids.printerId, ids.correlationId), { t: 'outcome', at: this.#at(), jobId: ids.jobId, outcome }])
  }

  /**
   * Record that bytes are about to go to the printer, unless the job is no longer
   * waiting to print (canceled meanwhile). Checked and written as one step, so a cancel
   * and the start of printing never both win. Returns whether printing may start.
   */
  async markPrinting (jobId: string): Promise<boolean> {
    return await this.#appendIf(() => this.#entries.get(jobId)?.phase === 'accepted' ? [{ t: 'printing', at: this.#at(), jobId }] : null)
  }

  /**
   * Cancel a job that has not started printing: settle it `canceled`, or, when this
   * agent has not seen the job yet, record it as settled `canceled` so that its message,
   * arriving later, is never printed. Checked and written as one step against
   * {@link markPrinting}. Returns the job's phase before: `'unknown'` or `'accepted'`
   * (now canceled), `'printing'` or `'settled'` (too late, nothing written).
   */
  async cancel (ids: { jobId: string, printerId: string, correlationId: string }, outcome: Outcome): Promise<'unknown' | JobPhase> {
    let before: 'unknown' | JobPhase = 'unknown'
    await this.#appendIf(() => {
      const entry = this.#entries.get(ids.jobId)
      before = entry?.phase ?? 'unknown'
      if (entry === undefined) return [this.#accepted(ids.jobId, ids.printerId, ids.correlationId), { t: 'outcome', at: this.#at(), jobId: ids.jobId, outcome }]
      if (entry.phase === 'accepted') return [{ t: 'outcome', at: this.#at(), jobId: ids.jobId, outcome }]
      return null
    })
    return before
  }

  /**
   * Record how a job ended, unless it is already settled (a cancel came first).
   * Returns whether this outcome was recorded.
   */
  async settle (jobId: string, outcome: Outcome): Promise<boolean> {
    return await this.#appendIf(() => {
      const entry = this.#entries.get(jobId)
      return entry !== undefined && entry.phase !== 'settled' ? [{ t: 'outcome', at: this.#at(), jobId, outcome }] : null
    })
  }

  /**
   * Record that the server acknowledged the outcome. Not synced on its own: the record
   * goes to the file with the next write, or within {@link LAZY_FLUSH_MS}, or at stop.
   * Losing it to a crash only makes the agent report the outcome again after restart,
   * which the server records as a duplicate; syncing it cost one write and one fsync
   * per job (a quarter of the journal's work; docs/performance.md).
   */
  markReported (jobId: string): void {
    const record: JournalRecord = { t: 'reported', at: this.#at(), jobId }
    applyRecord(this.#entries, record)
    this.#lazy.push(record)
    this.#flushLazyWithin(LAZY_FLUSH_MS)
  }

  /**
   * Record the outcome of a job that is `printing` without a write of its own: the
   * record goes to the file with the next write, or within {@link OUTCOME_FLUSH_MS}.
   * The job runner uses this when another job waits for the same printer, whose
   * `printing` record (written before its first byte) then carries this outcome: one
   * synced write fewer per ticket under load. Resolves once the record is on disk; the
   * outcome must not be published before. A crash before that leaves the job
   * `printing`, reported `unconfirmed` after the restart, and nothing was published that
   * the file does not hold. Returns false, writing nothing, unless the job is `printing`
   * (a job not yet printing could be printed again if its outcome were lost).
   */
  async settleWithNextWrite (jobId: string, outcome: Outcome): Promise<boolean> {
    if (this.#handle === null) throw new JournalClosedError()
    if (this.#entries.get(jobId)?.phase !== 'printing') return false
    const record: JournalRecord = { t: 'outcome', at: this.#at(), jobId, outcome }
    applyRecord(this.#entries, record)
    this.#lazy.push(record)
    const durable = new Promise<void>((resolve, reject) => { this.#lazyWaiters.push({ resolve, reject }) })
    this.#flushLazyWithin(OUTCOME_FLUSH_MS)
    await durable
    return true
  }

  /** Make sure the lazy records are written within `ms` (sooner if another write comes first). */
  #flushLazyWithin (ms: number): void {
    const dueAt = Date.now() + ms
    if (this.#lazyTimer !== null && this.#lazyDueAt <= dueAt) return
    this.#clearLazyTimer()
    this.#lazyDueAt = dueAt
    this.#lazyTimer = setTimeout(() => {
      this.#lazyTimer = null
      this.#lazyDueAt = Infinity
      if (this.#lazy.length > 0 && this.#handle !== null) this.append([]).catch((err: unknown) => { this.#log.warn({ err }, 'journal write failed') })
    }, ms)
    // Someone awaiting an outcome keeps the process alive until it is written.
    if (this.#lazyWaiters.length === 0) this.#lazyTimer.unref()
  }

  #clearLazyTimer (): void {
    if (this.#lazyTimer !== null) clearTimeout(this.#lazyTimer)
    this.#lazyTimer = null
    this.#lazyDueAt = Infinity
  }

  /** Append records in one write, fsync, then apply them to the in-memory state. */
  async append (records: readonly JournalRecord[]): Promise<void> {
    await this.#appendIf(() => records)
  }

  /**
   * Append what `decide` returns (nothing when it returns null), deciding only once
   * every earlier write is applied. Returns whether something was written.
   */
  async #appendIf (decide: () => readonly JournalRecord[] | null): Promise<boolean> {
    const written = await this.#exclusive(async () => {
      const handle = this.#handle
      if (handle === null) throw new JournalClosedError()
      const records = decide()
      if (records === null && this.#lazy.length === 0) return false
      const lazy = this.#lazy
      const waiters = this.#lazyWaiters
      this.#lazy = []
      this.#lazyWaiters = []
      const data = serializeRecords([...lazy, ...(records ?? [])])
      try {
        await writeAll(handle, data)
        // Lazy records alone are not worth an fsync (see markReported), unless someone waits for them; with O_DSYNC every write is synced anyway.
        if (SYNCED_APPEND === null && ((records !== null && records.length > 0) || waiters.length > 0)) await handle.sync()
      } catch (err) {
        this.#lazy = [...lazy, ...this.#lazy]
        for (const waiter of waiters) waiter.reject(err)
        throw err
      }
      for (const waiter of waiters) waiter.resolve()
      this.#size += data.length
      this.#appendedDuringCompaction?.push(data)
      for (const record of records ?? []) applyRecord(this.#entries, record)
      return records !== null
    })
    if (this.#size > this.#compactAt && this.#compaction === null) {
      // In the background: this write is on disk already, and later ones go on meanwhile.
      this.compact().catch((err: unknown) => {
        if (err instanceof JournalClosedError) this.#log.debug('journal compaction ended by stop')
        else this.#log.error({ err, bytes: this.#size }, 'journal compaction failed; tried again after more writes')
      })
    }
    return written
  }

  /** Resolves when no compaction is running (it never rejects). */
  async compacted (): Promise<void> {
    await this.#compaction?.catch(() => {})
  }

  /**
   * Rewrite the journal keeping entries updated within the retention period and every
   * entry not yet finished (not settled, or outcome not yet acknowledged). Appends go on
   * while it copies (see the top of this file). A call while one runs joins it.
   */
  compact (): Promise<void> {
    this.#compaction ??= this.#compactOnce().finally(() => { this.#compaction = null })
    return this.#compaction
  }

  async #compactOnce (): Promise<void> {
    // Under the lock: drop what is past retention, take the entries as they are now, and
    // from here keep a copy of every write. Entries are replaced, never changed, so the
    // array stays as it was taken; every record applied later is in the copied writes.
    const { before, entries } = await this.#exclusive(async () => {
      if (this.#handle === null) throw new JournalClosedError()
      const cutoff = this.#now() - this.#retentionMs
      const before = this.#entries.size
      for (const [jobId, entry] of this.#entries) {
        const finished = entry.phase === 'settled' && entry.reported
        if (finished && entry.updatedAt < cutoff) this.#entries.delete(jobId)
      }
      this.#appendedDuringCompaction = []
      return { before, entries: [...this.#entries.values()] }
    })
    const temp = `${this.#path}.tmp`
    let tempHandle: FileHandle | null = null
    try {
      // Outside the lock: appends go on to the journal meanwhile.
      tempHandle = await open(temp, 'w')
      let size = 0
      for (let i = 0; i < entries.length; i += COMPACTION_CHUNK) {
        const data = serializeRecords(entries.slice(i, i + COMPACTION_CHUNK).flatMap(recordsFor))
        await writeAll(tempHandle, data)
        size += data.length
      }
      await tempHandle.sync()
      // Under the lock: add what was appended meanwhile, then replace the journal. Records
      // written lazily (markReported) may stand twice in the new file; replaying a record
      // again changes nothing.
      const newFile = tempHandle
      await this.#exclusive(async () => {
        const handle = this.#handle
        if (handle === null) throw new JournalClosedError()
        const appended = Buffer.concat(this.#appendedDuringCompaction ?? [])
        this.#appendedDuringCompaction = null
        if (appended.length > 0) {
          await writeAll(newFile, appended)
          await newFile.sync()
        }
        tempHandle = null
        await newFile.close()
        // The old file is closed before the rename, as Windows wants (no appends run meanwhile: this holds the lock).
        this.#handle = null
        await handle.close()
        await rename(temp, this.#path)
        await this.#syncDir()
        this.#handle = await openForAppend(this.#path)
        this.#size = size + appended.length
        // Without this, a journal whose entries are all recent would be rewritten on every append.
        this.#compactAt = Math.max(this.#maxBytes, 2 * this.#size)
        this.#log.info({ entriesBefore: before, entriesAfter: this.#entries.size, bytes: this.#size, appendedMeanwhile: appended.length }, 'journal compacted')
      })
    } catch (err) {
      this.#appendedDuringCompaction = null
      if (tempHandle !== null) await (tempHandle as FileHandle).close().catch(() => {})
      await rm(temp, { force: true }).catch(() => {})
      // Not again on the very next append (a full disk would fail every one).
      this.#compactAt = Math.max(this.#compactAt, this.#size + this.#maxBytes)
      throw err
    }
  }

  async #load (): Promise<void> {
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const complete = text.lastIndexOf('\n') + 1
    if (complete < text.length) {
      this.#log.warn({ bytes: Buffer.byteLength(text.slice(complete)) }, 'journal torn last line dropped')
      await truncate(this.#path, Buffer.byteLength(text.slice(0, complete)))
    }
    const lines = text.slice(0, complete).split('\n')
    lines.pop()
    lines.forEach((line, index) => {
      const record = parseRecord(line)
      // Lines are written whole and fsync'ed; an unreadable one inside the file means
      // outside damage. Skipping it keeps the branch printing; say so loudly.
      if (record === null) this.#log.error({ line: index + 1 }, 'journal line unreadable')
      else applyRecord(this.#entries, record)
    })
    this.#size = Buffer.byteLength(text.slice(0, complete))
    this.#log.info({ entries: this.#entries.size, bytes: this.#size }, 'journal loaded')
  }

  async #syncDir (): Promise<void> {
    // Makes the rename durable on POSIX; directories cannot be opened for sync on Windows.
    try {
      const dir = await open(this.#dir, 'r')
      try { await dir.sync() } finally { await dir.close() }
    } catch (err) {
      this.#log.debug({ err }, 'journal directory sync unavailable')
    }
  }

  #accepted (jobId: string, printerId: string, correlationId: string, job?: PrintJobMessage): JournalRecord {
    return { t: 'accepted', at: this.#at(), jobId, printerId, correlationId, ...(job !== undefined ? { job } : {}) }
  }

  #at (): string {
    return new Date(this.#now()).toISOString()
  }

  #exclusive<T> (operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation)
    this.#tail = result.catch(() => {})
    return result
  }
}
