/**
 * Recognises errors that mean "the database cannot be reached right now" (as opposed
 * to a bug or a constraint violation), so the API answers 503 with Retry-After instead
 * of 500, and callers know a retry later may succeed.
 */

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

// SQLSTATE: class 08 connection exceptions; 57P01-57P03 shutdown / cannot connect now;
// 53300 too many connections; 40001/40P01 are retriable by definition.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01'])

// node-postgres reports lost or unobtainable connections with plain messages.
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool'
]

/** True when `err` (or its cause) says the database is unreachable or unavailable. */
export function isDatabaseUnavailable (err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATES.has(code) || code.startsWith('08'))) return true
    const message = (e as { message?: unknown }).message
    if (typeof message === 'string' && PG_MESSAGES.some((m) => message.includes(m))) return true
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true
  }
  return false
}
