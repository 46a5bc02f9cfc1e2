/**
 * MQTT message schemas (design §4): one TypeBox schema per kind, one envelope
 * `{ v: 1, kind, id, correlationId, sentAt, ...body }` for all. Aedes speaks MQTT 3.1.1,
 * so correlation and expiry travel in the payload, not in MQTT 5 properties.
 */
import Type, { type Static, type TLiteral, type TSchema, type TUnion } from 'typebox'
import { Compile } from 'typebox/compile'
import { CORRELATION_ID_PATTERN, ID_PATTERN, JOB_ID_PATTERN, newId } from './ids.js'
import { DISCOVERY_REPORT_FIELDS, DISCOVERY_REQUEST_FIELDS } from './discovery-messages.js'
import { RESULT_STATES } from './job-states.js'
import { PRINTER_STATES, type PrinterState } from './printer-states.js'

/** A union of string literals that keeps each literal in the static type. */
function literalUnion<const T extends readonly string[]> (values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((value) => Type.Literal(value))) as never
}

/** A union of number literals that keeps each literal in the static type. */
function numberUnion<const T extends readonly number[]> (values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((value) => Type.Literal(value))) as never
}

const Id = Type.String({ pattern: ID_PATTERN })
const JobId = Type.String({ pattern: JOB_ID_PATTERN })
const IsoTime = Type.String({ format: 'date-time', maxLength: 40 })

/** Maximum characters of a `text` document. */
export const MAX_TEXT_LENGTH = 64 * 1024
/** Maximum length of the base64 of a `raw` document (about 384 KiB of bytes). */
export const MAX_RAW_BASE64_LENGTH = 512 * 1024
/** Maximum length of the base64 of one receipt image (about 192 KiB of PNG). */
export const MAX_IMAGE_BASE64_LENGTH = 256 * 1024
/** Maximum blocks of one receipt. */
export const MAX_RECEIPT_BLOCKS = 500

const Base64 = (maxLength: number): ReturnType<typeof Type.String> =>
  Type.String({ minLength: 4, maxLength, pattern: '^[A-Za-z0-9+/]+={0,2}$' })

/** Horizontal alignment of a receipt block. */
export const Align = literalUnion(['left', 'center', 'right'] as const)
/** Horizontal alignment of a receipt block. */
export type Align = Static<typeof Align>

/** Plain lines of text; each `\n` starts a new line. */
export const TextContent = Type.Object({
  type: Type.Literal('text'),
  text: Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH })
}, { additionalProperties: false })

/** Printer command bytes (ESC/POS or Star), base64, sent to the printer unchanged. */
export const RawContent = Type.Object({
  type: Type.Literal('raw'),
  data: Base64(MAX_RAW_BASE64_LENGTH)
}, { additionalProperties: false })

/** A line (or lines) of styled text. `width`/`height` multiply the character size (1-6). */
export const ReceiptTextBlock = Type.Object({
  type: Type.Literal('text'),
  text: Type.String({ minLength: 1, maxLength: 4096 }),
  align: Type.Optional(Align),
  bold: Type.Optional(Type.Boolean()),
  underline: Type.Optional(Type.Boolean()),
  width: Type.Optional(Type.Integer({ minimum: 1, maximum: 6 })),
  height: Type.Optional(Type.Integer({ minimum: 1, maximum: 6 }))
}, { additionalProperties: false })

/** One cell of a columns line. `width`: characters; unset cells share what is left. */
export const ReceiptColumn = Type.Object({
  text: Type.String({ maxLength: 256 }),
  align: Type.Optional(Align),
  width: Type.Optional(Type.Integer({ minimum: 1, maximum: 128 }))
}, { additionalProperties: false })

/** Two or three columns on one line (item, quantity, price); long cells wrap. */
export const ReceiptColumnsBlock = Type.Object({
  type: Type.Literal('columns'),
  columns: Type.Array(ReceiptColumn, { minItems: 2, maxItems: 3 }),
  bold: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

/** A full-width line of one repeated character (default `-`). */
export const ReceiptDividerBlock = Type.Object({
  type: Type.Literal('divider'),
  char: Type.Optional(Type.String({ minLength: 1, maxLength: 1, pattern: '^[\\x21-\\x7e]$' }))
}, { additionalProperties: false })

/** A QR code printed by the printer itself. */
export const ReceiptQrBlock = Type.Object({
  type: Type.Literal('qr'),
  /** Printable ASCII (URLs, order numbers): the printers' QR commands count bytes. */
  data: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[\\x20-\\x7e]+$' }),
  /** Module size in dots, 1-8. */
  cellSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
  correction: Type.Optional(literalUnion(['L', 'M', 'Q', 'H'] as const)),
  align: Type.Optional(Align)
}, { additionalProperties: false })

/** Barcode symbologies the agent renders on Epson and Star. */
export const BARCODE_SYMBOLOGIES = ['code128', 'ean13', 'code39'] as const
/** A barcode symbology. */
export type BarcodeSymbology = typeof BARCODE_SYMBOLOGIES[number]

/** A one-dimensional barcode. */
export const ReceiptBarcodeBlock = Type.Object({
  type: Type.Literal('barcode'),
  symbology: literalUnion(BARCODE_SYMBOLOGIES),
  data: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x20-\\x7e]+$' }),
  /** Bar height in dots. */
  height: Type.Optional(Type.Integer({ minimum: 16, maximum: 255 })),
  align: Type.Optional(Align)
}, { additionalProperties: false })

/** A PNG image (base64), printed as a raster; at most the paper's width in dots. */
export const ReceiptImageBlock = Type.Object({
  type: Type.Literal('image'),
  png: Base64(MAX_IMAGE_BASE64_LENGTH),
  align: Type.Optional(Align)
}, { additionalProperties: false })

/** Blank lines. */
export const ReceiptFeedBlock = Type.Object({
  type: Type.Literal('feed'),
  lines: Type.Integer({ minimum: 1, maximum: 20 })
}, { additionalProperties: false })

/** Cut the paper (full by default). */
export const ReceiptCutBlock = Type.Object({
  type: Type.Literal('cut'),
  partial: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

/** Open the cash drawer. */
export const ReceiptDrawerBlock = Type.Object({
  type: Type.Literal('drawer')
}, { additionalProperties: false })

/** Sound the buzzer `times` times (1-9). */
export const ReceiptBeepBlock = Type.Object({
  type: Type.Literal('beep'),
  times: Type.Optional(Type.Integer({ minimum: 1, maximum: 9 }))
}, { additionalProperties: false })

/** One block of a receipt. */
export const ReceiptBlock = Type.Union([
  ReceiptTextBlock, ReceiptColumnsBlock, ReceiptDividerBlock, ReceiptQrBlock, ReceiptBarcodeBlock,
  ReceiptImageBlock, ReceiptFeedBlock, ReceiptCutBlock, ReceiptDrawerBlock, ReceiptBeepBlock
])
/** One block of a receipt. */
export type ReceiptBlock = Static<typeof ReceiptBlock>

/**
 * A document of blocks the agent renders for its printer's command set, paper width and
 * code page. It ends with a full cut unless its last block is a cut.
 */
export const ReceiptContent = Type.Object({
  type: Type.Literal('receipt'),
  blocks: Type.Array(ReceiptBlock, { minItems: 1, maxItems: MAX_RECEIPT_BLOCKS })
}, { additionalProperties: false })
/** A receipt document. */
export type ReceiptContent = Static<typeof ReceiptContent>

/** Document to print: plain text, raw printer bytes, or a receipt of blocks. */
export const JobContent = Type.Union([TextContent, RawContent, ReceiptContent])
/** Document to print. */
export type JobContent = Static<typeof JobContent>

/** Printer models whose command sets the agent renders. */
export const PrinterModel = Type.Union([Type.Literal('epson'), Type.Literal('star')])
/** Printer model. */
export type PrinterModel = Static<typeof PrinterModel>

/** Baud rates a `serial` printer connection may use. */
export const SERIAL_BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const

/** How the agent reaches a printer. */
export const PrinterConnection = Type.Union([
  /** Raw TCP, usually port 9100. */
  Type.Object({
    type: Type.Literal('tcp'),
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 })
  }, { additionalProperties: false }),
  /** A serial port (`/dev/ttyUSB0`, `COM3`) through serialport. */
  Type.Object({
    type: Type.Literal('serial'),
    path: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9/._:-]+$' }),
    baudRate: numberUnion(SERIAL_BAUD_RATES),
    dataBits: Type.Optional(Type.Union([Type.Literal(7), Type.Literal(8)])),
    stopBits: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)])),
    parity: Type.Optional(literalUnion(['none', 'even', 'odd'] as const)),
    /** Hardware flow control (RTS/CTS). */
    rtscts: Type.Optional(Type.Boolean())
  }, { additionalProperties: false }),
  /** A character device written directly, e.g. `/dev/usb/lp0`. */
  Type.Object({
    type: Type.Literal('device'),
    path: Type.String({ minLength: 1, maxLength: 255, pattern: '^/[A-Za-z0-9/._-]+$' })
  }, { additionalProperties: false })
])
/** How the agent reaches a printer. */
export type PrinterConnection = Static<typeof PrinterConnection>

/** Code pages the agent can select for text (names as the printer manuals use them). */
export const CODE_PAGES = ['cp437', 'cp850', 'cp858', 'cp866', 'cp1250', 'cp1251', 'cp1252'] as const
/** A code page. */
export type CodePageName = typeof CODE_PAGES[number]

/** One printer as the agent needs to know it. */
export const PrinterConfig = Type.Object({
  id: Id,
  model: PrinterModel,
  connection: PrinterConnection,
  /** Characters per line at the default font. */
  width: Type.Integer({ minimum: 16, maximum: 128 }),
  /** Code page for text; default cp1252 (Western European with the euro sign). */
  codePage: Type.Optional(literalUnion(CODE_PAGES))
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

/**
 * server -> agent: do not print this job (topic `.../agents/{agent}/jobs`, like the job,
 * so MQTT keeps the two in order and no new ACL entry is needed). Sent when a job that
 * was already published is canceled. The agent journals it: a job that has not started
 * printing never prints (also when its message arrives after this one), and the agent
 * answers with a `job-result`: `canceled`, or what really happened if it was too late.
 */
export const JobCancelMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('job-cancel'),
  jobId: JobId,
  printerId: Id
}, { additionalProperties: false })
/** server -> agent: do not print this job. */
export type JobCancelMessage = Static<typeof JobCancelMessage>

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
  /** V8 heap in use, bytes. */
  heapUsedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** One-minute load average of the agent's machine (0 where the OS has none). */
  loadAverage: Type.Optional(Type.Number({ minimum: 0 })),
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

/** Printer states an agent reports (defined in printer-states.ts, shared with discovery). */
export { PRINTER_STATES, type PrinterState }

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

/** server -> agent: look for printers (topic `.../agents/{agent}/discovery`; fields in discovery-messages.ts). */
export const DiscoveryRequestMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('discovery-request'),
  ...DISCOVERY_REQUEST_FIELDS
}, { additionalProperties: false })
/** server -> agent: look for printers. */
export type DiscoveryRequestMessage = Static<typeof DiscoveryRequestMessage>

/** agent -> server: what a discovery found (topic `.../agents/{agent}/discovered`). */
export const DiscoveryReportMessage = Type.Object({
  ...envelope,
  kind: Type.Literal('discovery-report'),
  ...DISCOVERY_REPORT_FIELDS
}, { additionalProperties: false })
/** agent -> server: what a discovery found. */
export type DiscoveryReportMessage = Static<typeof DiscoveryReportMessage>

/** Every message kind by name. */
export const MESSAGE_SCHEMAS = {
  'print-job': PrintJobMessage,
  'job-cancel': JobCancelMessage,
  'job-result': JobResultMessage,
  'agent-config': AgentConfigMessage,
  'agent-health': AgentHealthMessage,
  'printer-status': PrinterStatusMessage,
  'discovery-request': DiscoveryRequestMessage,
  'discovery-report': DiscoveryReportMessage
} as const
/** Name of a message kind. */
export type MessageKind = keyof typeof MESSAGE_SCHEMAS
/** The message type of a kind. */
export type MessageOf<K extends MessageKind> = Static<typeof MESSAGE_SCHEMAS[K]>

type Validator = ReturnType<typeof Compile>
const validators = new Map<MessageKind, Validator>()

/**
 * The compiled validator of a kind, compiled on first use: an agent only ever decodes
 * jobs and config, and compiling every schema up front costs tens of MB on a small device.
 */
function validatorOf (kind: MessageKind): Validator {
  let validator = validators.get(kind)
  if (validator === undefined) {
    validator = Compile(MESSAGE_SCHEMAS[kind] as TSchema)
    validators.set(kind, validator)
  }
  return validator
}

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
  const validator = validatorOf(kind)
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
  const validator = validatorOf(kind)
  if (!validator.Check(value)) {
    throw new InvalidMessageError(`${kind}: ${describeErrors(validator, value)}`)
  }
  return value as MessageOf<K>
}

function describeErrors (validator: Validator, value: unknown): string {
  const first = [...validator.Errors(value)].slice(0, 3)
  return first.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')
}
