/**
 * The `Idempotency-Key` request header (IETF draft-ietf-httpapi-idempotency-key-header):
 * reading and validating the key, and the fingerprint that tells "the same request
 * again" from "another request with a reused key".
 */
import { createHash } from 'node:crypto'

/** The request header, lower-cased as Node reports it. */
export const IDEMPOTENCY_HEADER = 'idempotency-key'
/** Response header set on a replayed response. */
export const REPLAYED_HEADER = 'idempotent-replayed'
/** Longest key accepted. */
export const MAX_KEY_LENGTH = 255

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/

/**
 * The key of a header value, or null when it is not acceptable. The draft defines the
 * header as a structured-field string (`"abc"`); a bare token (`abc`) is accepted too,
 * as most clients send one.
 */
export function parseIdempotencyKey (value: string | string[] | undefined): string | null {
  if (typeof value !== 'string') return null
  let key = value.trim()
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1)
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) return null
  return key
}

/** SHA-256 over method, path and the body in a canonical form (object keys sorted). */
export function requestFingerprint (method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body)}`).digest('hex')
}

function canonicalJson (value: unknown): string {
  if (value === undefined) return ''
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}
