/**
 * What the agent's journal stores: one JSON line per record, folded by job id into
 * one entry per job. Records only ever move a job forward, so replaying the file from
 * the start rebuilds the state the agent had when it stopped (or crashed).
 */
import type { PrintJobMessage } from '../shared/messages.js'

/** Final states a job reaches on this agent. */
export type OutcomeState = 'printed' | 'failed' | 'unconfirmed' | 'expired' | 'canceled'

/** How a job ended, as reported to the server. */
export interface Outcome {
  readonly state: OutcomeState
  readonly code: number
  readonly detail?: string
}

/** One line of the journal. `at` is an ISO time. */
export type JournalRecord =
  | { readonly t: 'accepted', readonly at: string, readonly jobId: string, readonly printerId: string, readonly correlationId: string, readonly job?: PrintJobMessage }
  | { readonly t: 'printing', readonly at: string, readonly jobId: string }
  | { readonly t: 'outcome', readonly at: string, readonly jobId: string, readonly outcome: Outcome }
  | { readonly t: 'reported', readonly at: string, readonly jobId: string }

/** Where a job stands on this agent. */
export type JobPhase = 'accepted' | 'printing' | 'settled'

/** Everything the journal knows about one job. */
export interface JournalEntry {
  readonly jobId: string
  readonly printerId: string
  readonly correlationId: string
  /** The job itself, kept only until it is settled (the content is not needed after). */
  readonly job?: PrintJobMessage
  readonly phase: JobPhase
  readonly outcome?: Outcome
  /** The server acknowledged the outcome (PUBACK of the result). */
  readonly reported: boolean
  /** Time of the last record, ms since the epoch. */
  readonly updatedAt: number
}

const RECORD_TYPES = new Set(['accepted', 'printing', 'outcome', 'reported'])

/** Parse one journal line; `null` when it is not a record this version understands. */
export function parseRecord (line: string): JournalRecord | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const record = value as Record<string, unknown>
  if (typeof record.t !== 'string' || !RECORD_TYPES.has(record.t)) return null
  if (typeof record.jobId !== 'string' || typeof record.at !== 'string') return null
  if (record.t === 'accepted' && (typeof record.printerId !== 'string' || typeof record.correlationId !== 'string')) return null
  if (record.t === 'outcome') {
    const outcome = record.outcome as Record<string, unknown> | null | undefined
    if (typeof outcome !== 'object' || outcome === null || typeof outcome.state !== 'string' || typeof outcome.code !== 'number') return null
  }
  return value as JournalRecord
}

/** Fold `record` into `entries`. Records for unknown jobs (lost to a torn write) are ignored. */
export function applyRecord (entries: Map<string, JournalEntry>, record: JournalRecord): void {
  const at = Date.parse(record.at)
  const updatedAt = Number.isNaN(at) ? Date.now() : at
  if (record.t === 'accepted') {
    if (entries.has(record.jobId)) return
    entries.set(record.jobId, {
      jobId: record.jobId,
      printerId: record.printerId,
      correlationId: record.correlationId,
      ...(record.job !== undefined ? { job: record.job } : {}),
      phase: 'accepted',
      reported: false,
      updatedAt
    })
    return
  }
  const entry = entries.get(record.jobId)
  if (entry === undefined) return
  switch (record.t) {
    case 'printing':
      if (entry.phase === 'accepted') entries.set(record.jobId, { ...entry, phase: 'printing', updatedAt })
      return
    case 'outcome': {
      if (entry.phase === 'settled') return
      const { job: _content, ...rest } = entry
      entries.set(record.jobId, { ...rest, phase: 'settled', outcome: record.outcome, updatedAt })
      return
    }
    case 'reported':
      if (entry.phase === 'settled') entries.set(record.jobId, { ...entry, reported: true, updatedAt })
  }
}

/** The shortest list of records that rebuilds `entry` (used by compaction). */
export function recordsFor (entry: JournalEntry): JournalRecord[] {
  const at = new Date(entry.updatedAt).toISOString()
  const records: JournalRecord[] = [{
    t: 'accepted',
    at,
    jobId: entry.jobId,
    printerId: entry.printerId,
    correlationId: entry.correlationId,
    ...(entry.job !== undefined ? { job: entry.job } : {})
  }]
  if (entry.phase === 'printing') records.push({ t: 'printing', at, jobId: entry.jobId })
  if (entry.outcome !== undefined) records.push({ t: 'outcome', at, jobId: entry.jobId, outcome: entry.outcome })
  if (entry.reported) records.push({ t: 'reported', at, jobId: entry.jobId })
  return records
}

/** Serialise records as journal lines. */
export function serializeRecords (records: readonly JournalRecord[]): Buffer {
  return Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''), 'utf8')
}
