/**
 * Opaque cursors of `GET /v1/print-jobs`: the position (created_at, id) of the last job
 * of a page, base64url-encoded JSON. Clients pass them back unchanged.
 */
import { isValidJobId } from '../../shared/ids.js'

/** A position in the job list. */
export interface JobCursor {
  readonly createdAt: Date
  readonly id: string
}

/** Encode the position after `job`. */
export function encodeJobCursor (cursor: JobCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString('base64url')
}

/** Decode a cursor; null when it is not one of ours. */
export function decodeJobCursor (value: string): JobCursor | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
    if (!Array.isArray(parsed) || parsed.length !== 2) return null
    const [at, id] = parsed as unknown[]
    if (typeof at !== 'string' || typeof id !== 'string' || !isValidJobId(id)) return null
    const createdAt = new Date(at)
    if (Number.isNaN(createdAt.getTime())) return null
    return { createdAt, id }
  } catch {
    return null
  }
}
