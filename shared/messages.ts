/**
 * MQTT message schemas (design §4): one TypeBox schema per kind, one envelope
 * `{ v: 1, kind, id, correlationId, sentAt, ...body }` for all. Aedes speaks MQTT 3.1.1,
 * so correlation and expiry travel in the payload, not in MQTT 5 properties.
 */
import Type, { type Static, type TLiteral, type TSchema, type TUnion } from 'typebox'
import { Compile } from 'typebox/compile'
import { CORRELATION_ID_PATTERN, ID_PATTERN, JOB_ID_PATTERN, newId } from './ids.js'
import { RESULT_STATES } from './job-states.js'

/** A union of string literals that keeps each literal in the static type. */
function literalUnion<const T extends readonly string[]> (values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((value) => Type.Literal(value))) as never
}

const Id = Type.String({ pattern: ID_PATTERN })
const JobId = Type.String({ pattern: JOB_ID_PATTERN })
const IsoTime = Type.String({ format: 'date-time', maxLength: 40 })

/** Maximum characters of a `text` document. */
export const MAX_TEXT_LENGTH = 64 * 1024

/** Plain lines of text; each `\n` starts a new line. */
export const TextContent = Type.Object({
  type: Type.Literal('text'),
  text: Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH })
}, { additionalProperties: false })

/** Document to print. More content types (raw, receipt) are added here. */
export const JobContent = Type.Union([TextContent])
/** Document to print. */
export type JobContent = Static<typeof JobContent>

/** Printer models whose command sets the agent renders. */
export const PrinterModel = Type.Union([Type.Literal('epson'), Type.Literal('star')])
/** Printer model. */
export type PrinterModel = Static<typeof PrinterModel>

/** How the agent reaches a printer. */
export const PrinterConnection = Type.Union([
  Type.Object({
    type: Type.Literal('tcp'),
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 })
  }, { additionalProperties: false })
])
/** How the agent reaches a printer. */
export type PrinterConnection = Static<typeof PrinterConnection>

/** One printer as the agent needs to know it. */
export const PrinterConfig = Type.Object({
  id: Id,
  model: PrinterModel,
  connection: PrinterConnection,
  /** Characters per line at the default font. */
  width: Type.Integer({ minimum: 16, maximum: 128 })
}, { additionalProperties: false })
/** One printer as the agent needs to know it. */
export type PrinterConfig = Static<typeof PrinterConfig>

const envelope = {
  v: Type.Literal(1),
  /** Unique id of this message. */
  id: Type.String({ minLength: 1, maxLength: 64 }),
  correlationId: Type.String({ pattern: CORRELATION_ID_PATTERN }),
  sentAt: IsoTime
}

/** server -> agent: print this (topic `.../agents/{agent}/jobs`). */
export const PrintJobMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('print-job'),
  jobId: JobId,
  printerId: Id,
  content: JobContent,
  copies: Type.Integer({ minimum: 1, maximum: 10 }),
  /** The agent refuses to print after this instant. */
  expiresAt: IsoTime,
  reference: Type.Optional(Type.String({ maxLength: 128 }))
}, { additionalProperties: false })
/** server -> agent: print this. */
export type PrintJobMessage = Static<typeof PrintJobMessage>

/** agent -> server: what became of a job (topic `.../agents/{agent}/results`). */
export const JobResultMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('job-result'),
  jobId: JobId,
  printerId: Id,
  state: literalUnion(RESULT_STATES),
  /** CloudPRNT-style code, see RESULT_CODES. */
  code: Type.Integer({ minimum: 100, maximum: 599 }),
  detail: Type.Optional(Type.String({ maxLength: 1024 })),
  /** True when the agent re-publishes a result it had already recorded. */
  replay: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
/** agent -> server: what became of a job. */
export type JobResultMessage = Static<typeof JobResultMessage>

/** server -> agent, retained: the printers this agent drives (topic `.../config`). */
export const AgentConfigMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('agent-config'),
  printers: Type.Array(PrinterConfig, { maxItems: 64 })
}, { additionalProperties: false })
/** server -> agent: the printers this agent drives. */
export type AgentConfigMessage = Static<typeof AgentConfigMessage>

/** agent -> all, retained; also the Last Will with `online: false` (topic `.../health`). */
export const AgentHealthMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('agent-health'),
  /** Random per connection, so a stale Will of a replaced connection is recognised. */
  sessionId: Type.String({ minLength: 1, maxLength: 64 }),
  online: Type.Boolean(),
  version: Type.Optional(Type.String({ maxLength: 32 })),
  uptimeSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  rssBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  reconnects: Type.Optional(Type.Integer({ minimum: 0 })),
  rttMs: Type.Optional(Type.Number({ minimum: 0 })),
  lastError: Type.Optional(Type.String({ maxLength: 1024 })),
  printers: Type.Optional(Type.Array(Type.Object({
    id: Id,
    queueDepth: Type.Integer({ minimum: 0 })
  }, { additionalProperties: false }), { maxItems: 64 }))
}, { additionalProperties: false })
/** Agent health. */
export type AgentHealthMessage = Static<typeof AgentHealthMessage>

/** Printer states an agent reports. */
export const PRINTER_STATES = ['ready', 'paper-low', 'paper-out', 'cover-open', 'error', 'offline', 'unknown'] as const
/** A printer state. */
export type PrinterState = typeof PRINTER_STATES[number]

/** agent -> all, retained (topic `.../printers/{printer}/status`). */
export const PrinterStatusMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('printer-status'),
  printerId: Id,
  sessionId: Type.String({ minLength: 1, maxLength: 64 }),
  state: literalUnion(PRINTER_STATES),
  detail: Type.Optional(Type.String({ maxLength: 1024 }))
}, { additionalProperties: false })
/** Printer status. */
export type PrinterStatusMessage = Static<typeof PrinterStatusMessage>

/** Every message kind by name. */
export const MESSAGE_SCHEMAS = {
  'print-job': PrintJobMessage,
  'job-result': JobResultMessage,
  'agent-config': AgentConfigMessage,
  'agent-health': AgentHealthMessage,
  'printer-status': PrinterStatusMessage
} as const
/** Name of a message kind. */
export type MessageKind = keyof typeof MESSAGE_SCHEMAS
/** The message type of a kind. */
export type MessageOf<K extends MessageKind> = Static<typeof MESSAGE_SCHEMAS[K]>

const validators = Object.fromEntries(
  Object.entries(MESSAGE_SCHEMAS).map(([kind, schema]) => [kind, Compile(schema as TSchema)])
) as { [K in MessageKind]: ReturnType<typeof Compile> }

/** Thrown by {@link decodeMessage} for a payload that is not a valid message of the kind. */
export class InvalidMessageError extends Error {
  readonly code = 'PRINTMQ_INVALID_MESSAGE'
  constructor (message: string) {
    super(message)
    this.name = 'InvalidMessageError'
  }
}

/** Body of a message: everything but the envelope fields the encoder fills in. */
export type MessageBody<K extends MessageKind> = Omit<MessageOf<K>, 'v' | 'kind' | 'id' | 'sentAt' | 'correlationId'>

/** Build a complete message of `kind`, validate it and serialise it to a payload. */
export function encodeMessage<K extends MessageKind> (kind: K, correlationId: string, body: MessageBody<K>): Buffer {
  const message = { v: 1, kind, id: newId(), correlationId, sentAt: new Date().toISOString(), ...body }
  const validator = validators[kind]
  if (!validator.Check(message)) {
    throw new InvalidMessageError(`refusing to send invalid ${kind}: ${describeErrors(validator, message)}`)
  }
  return Buffer.from(JSON.stringify(message))
}

/** Parse and validate a payload as a message of `kind`. Throws {@link InvalidMessageError}. */
export function decodeMessage<K extends MessageKind> (kind: K, payload: Buffer | string): MessageOf<K> {
  let value: unknown
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    throw new InvalidMessageError(`${kind}: payload is not JSON`)
  }
  const validator = validators[kind]
  if (!validator.Check(value)) {
    throw new InvalidMessageError(`${kind}: ${describeErrors(validator, value)}`)
  }
  return value as MessageOf<K>
}

function describeErrors (validator: ReturnType<typeof Compile>, value: unknown): string {
  const first = [...validator.Errors(value)].slice(0, 3)
  return first.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')
}
