/**
 * Identifiers of tenants, branches, agents and printers (design §3).
 *
 * They appear inside MQTT topic levels and Mosquitto ACL lines, so they may never
 * contain `/`, `+`, `#`, `$`, `.`, white space or NUL.
 */
import { randomUUID } from 'node:crypto'

/** Pattern every tenant, branch, agent and printer id matches. */
export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$'
const ID_REGEX = new RegExp(ID_PATTERN)

/** Pattern a correlation id matches (generated ones are UUIDs). */
export const CORRELATION_ID_PATTERN = '^[A-Za-z0-9_.:-]{1,128}$'
const CORRELATION_ID_REGEX = new RegExp(CORRELATION_ID_PATTERN)

/** Pattern of a print job id: a lower-case UUID. */
export const JOB_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
const JOB_ID_REGEX = new RegExp(JOB_ID_PATTERN)

/** True when `value` is a valid tenant, branch, agent or printer id. */
export function isValidId (value: unknown): value is string {
  return typeof value === 'string' && ID_REGEX.test(value)
}

/** True when `value` may be used as a correlation id. */
export function isValidCorrelationId (value: unknown): value is string {
  return typeof value === 'string' && CORRELATION_ID_REGEX.test(value)
}

/** True when `value` is a print job id. */
export function isValidJobId (value: unknown): value is string {
  return typeof value === 'string' && JOB_ID_REGEX.test(value)
}

/** A fresh random id for jobs, messages and correlation. */
export function newId (): string {
  return randomUUID()
}

/** Where an agent lives. */
export interface AgentRef {
  readonly tenant: string
  readonly branch: string
  readonly agent: string
}

/** Where a printer lives. */
export interface PrinterRef {
  readonly tenant: string
  readonly branch: string
  readonly printer: string
}
