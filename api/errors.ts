/**
 * Every error the API answers with, in one place. Each has a stable `code` and an HTTP
 * status; the body is always `{ statusCode, code, message }`. test/api/errors.test.ts
 * keeps this list, the README's table and the codes in use in step.
 */
import { defineError } from '../shared/errors.js'

export const InvalidRequestError = defineError('PRINTMQ_API_INVALID_REQUEST', 400, (detail: string) => `invalid request: ${detail}`)
export const InvalidIdError = defineError('PRINTMQ_API_INVALID_ID', 400, (where: string, rule: string = '1-64 of A-Z a-z 0-9 _ -') => `${where} is not a valid id (${rule})`)
export const UnauthorizedError = defineError('PRINTMQ_API_UNAUTHORIZED', 401, (detail: string) => `unauthorized: ${detail}`)
export const ForbiddenError = defineError('PRINTMQ_API_FORBIDDEN', 403, (detail: string) => `forbidden: ${detail}`)
export const RouteNotFoundError = defineError('PRINTMQ_API_ROUTE_NOT_FOUND', 404, (method: string, url: string) => `no route ${method} ${url}`)
export const BranchNotFoundError = defineError('PRINTMQ_API_BRANCH_NOT_FOUND', 404, (id: string) => `branch ${id} not found`)
export const AgentNotFoundError = defineError('PRINTMQ_API_AGENT_NOT_FOUND', 404, (id: string) => `agent ${id} not found`)
export const PrinterNotFoundError = defineError('PRINTMQ_API_PRINTER_NOT_FOUND', 404, (id: string) => `printer ${id} not found`)
export const JobNotFoundError = defineError('PRINTMQ_API_JOB_NOT_FOUND', 404, (id: string) => `print job ${id} not found`)
export const BranchExistsError = defineError('PRINTMQ_API_BRANCH_EXISTS', 409, (id: string) => `branch ${id} already exists`)
export const AgentExistsError = defineError('PRINTMQ_API_AGENT_EXISTS', 409, (id: string) => `agent ${id} already exists in this branch`)
export const PrinterExistsError = defineError('PRINTMQ_API_PRINTER_EXISTS', 409, (id: string) => `printer ${id} already exists in this branch`)
export const BranchNotEmptyError = defineError('PRINTMQ_API_BRANCH_NOT_EMPTY', 409, (id: string) => `branch ${id} still has agents; delete them first`)
export const AgentHasPrintersError = defineError('PRINTMQ_API_AGENT_HAS_PRINTERS', 409, (id: string) => `agent ${id} still drives printers; move or delete them first`)
export const PrinterBusyError = defineError('PRINTMQ_API_PRINTER_BUSY', 409, (id: string) => `printer ${id} has jobs that are not finished`)
export const RateLimitedError = defineError('PRINTMQ_API_RATE_LIMITED', 429, (scope: string, retryAfterSeconds: number) => `too many print jobs for this ${scope}; retry in ${retryAfterSeconds} s`)
export const JobNotCancelableError = defineError('PRINTMQ_API_JOB_NOT_CANCELABLE', 409, (id: string, state: string) => `print job ${id} is ${state}: only queued or dispatched jobs can be canceled`)
export const IdempotencyKeyInvalidError = defineError('PRINTMQ_API_IDEMPOTENCY_KEY_INVALID', 400, () => 'Idempotency-Key must be 1-255 printable ASCII characters')
export const IdempotencyKeyInFlightError = defineError('PRINTMQ_API_IDEMPOTENCY_KEY_IN_FLIGHT', 409, () => 'a request with this Idempotency-Key is still being processed; retry later')
export const IdempotencyKeyReusedError = defineError('PRINTMQ_API_IDEMPOTENCY_KEY_REUSED', 422, () => 'this Idempotency-Key was used for a different request')
export const PayloadTooLargeError = defineError('PRINTMQ_API_PAYLOAD_TOO_LARGE', 413, (limit: number) => `request body larger than ${limit} bytes`)
export const UnsupportedMediaTypeError = defineError('PRINTMQ_API_UNSUPPORTED_MEDIA_TYPE', 415, (type: string) => `content type ${JSON.stringify(type)} is not supported; send application/json`)
export const ServiceUnavailableError = defineError('PRINTMQ_API_UNAVAILABLE', 503, (detail: string) => `service unavailable: ${detail}`)
export const BrokerUnavailableError = defineError('PRINTMQ_API_BROKER_UNAVAILABLE', 503, () => 'the MQTT broker is not reachable')
export const DiscoveryNotFoundError = defineError('PRINTMQ_API_DISCOVERY_NOT_FOUND', 404, (id: string) => `discovery ${id} not found`)
export const AgentOfflineError = defineError('PRINTMQ_API_AGENT_OFFLINE', 409, (id: string) => `agent ${id} is offline; discovery needs a connected agent`)
export const InternalError = defineError('PRINTMQ_API_INTERNAL', 500, () => 'internal error')

/** All API error classes, for the registry test and the README table. */
export const API_ERRORS = [
  InvalidRequestError, InvalidIdError, UnauthorizedError, ForbiddenError, RouteNotFoundError,
  BranchNotFoundError, AgentNotFoundError, PrinterNotFoundError, JobNotFoundError,
  BranchExistsError, AgentExistsError, PrinterExistsError, BranchNotEmptyError, AgentHasPrintersError,
  PrinterBusyError, RateLimitedError, PayloadTooLargeError,
  UnsupportedMediaTypeError, ServiceUnavailableError, BrokerUnavailableError, InternalError,
  JobNotCancelableError, IdempotencyKeyInvalidError, IdempotencyKeyInFlightError, IdempotencyKeyReusedError,
  DiscoveryNotFoundError, AgentOfflineError
] as const
