/**
 * Base error of printmq: a stable `code` (`PRINTMQ_<COMPONENT>_<WHAT>`) and, for errors
 * that reach an HTTP client, a status. Each component lists its concrete errors in its
 * own `errors.ts`.
 */
export class PrintmqError extends Error {
  /** Stable machine-readable code, e.g. `PRINTMQ_API_PRINTER_NOT_FOUND`. */
  readonly code: string
  /** HTTP status this error maps to. */
  readonly statusCode: number

  constructor (code: string, statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PrintmqError'
    this.code = code
    this.statusCode = statusCode
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly statusCode: number
  readonly code: string
  readonly message: string
}

/**
 * Define an error class with a fixed code and status, so each error is declared once.
 * `message` builds the text from the constructor's arguments.
 */
export function defineError<A extends unknown[]> (code: string, statusCode: number, message: (...args: A) => string): {
  new (...args: A): PrintmqError
  readonly code: string
  readonly statusCode: number
} {
  return class extends PrintmqError {
    static readonly code = code
    static readonly statusCode = statusCode
    constructor (...args: A) {
      super(code, statusCode, message(...args))
    }
  }
}
