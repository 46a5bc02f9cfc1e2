/** Request and response schemas shared by routes (TypeBox, so they double as OpenAPI). */
import Type from 'typebox'
import { CODE_PAGES, PrinterConnection, PrinterModel, type CodePageName } from '../shared/messages.js'
import { ID_PATTERN, JOB_ID_PATTERN } from '../shared/ids.js'

/** A tenant, branch, agent or printer id. */
export const Id = Type.String({ pattern: ID_PATTERN, description: '1-64 of A-Z a-z 0-9 _ -' })
/** A print job id. */
export const JobId = Type.String({ pattern: JOB_ID_PATTERN, description: 'UUID' })
/** An optional display name. */
export const Name = Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
/** `{ branchId }` path parameters. */
export const BranchParams = Type.Object({ branchId: Id })
/** `{ branchId, agentId }` path parameters. */
export const AgentParams = Type.Object({ branchId: Id, agentId: Id })
/** `{ branchId, printerId }` path parameters. */
export const PrinterParams = Type.Object({ branchId: Id, printerId: Id })

/** Largest page of a list. */
export const MAX_PAGE_SIZE = 200
/** Page size when `limit` is absent. */
export const DEFAULT_PAGE_SIZE = 50

/** `?limit=&cursor=` of every list. */
export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `items per page (default ${DEFAULT_PAGE_SIZE})` })),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$', description: 'nextCursor of the previous page' }))
}, { additionalProperties: false })

/** The JSON body of every error. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable, e.g. PRINTMQ_API_PRINTER_NOT_FOUND' }),
  message: Type.String()
})

const Time = Type.String({ format: 'date-time' })

/** A branch as the API shows it. */
export const BranchView = Type.Object({ id: Id, name: Type.Union([Type.String(), Type.Null()]), createdAt: Time })

/**
 * An agent as the API shows it (never its license key, except once at creation), with
 * the broker URL it should use and the MQTT identity it logs in with.
 */
export const AgentView = Type.Object({
  id: Id,
  branchId: Id,
  name: Type.Union([Type.String(), Type.Null()]),
  licenseIssuedAt: Time,
  revoked: Type.Boolean(),
  createdAt: Time,
  mqtt: Type.Object({
    url: Type.Union([Type.String(), Type.Null()], { description: 'the broker URL agents should use, as seen by this request (PRINTMQ_PUBLIC_MQTT_URL when set)' }),
    username: Type.String(),
    clientId: Type.String()
  })
})

/** An agent with a license key just issued (creation, rotation): the key, this once. */
export const AgentWithLicense = Type.Object({
  ...AgentView.properties,
  licenseKey: Type.String({ description: 'shown only in this response; the server keeps a hash' })
})

/** A code page the agent can select for text. */
export const CodePage = Type.Unsafe<CodePageName>({ type: 'string', enum: [...CODE_PAGES], description: 'code page for text (default cp1252)' })

/** A printer as the API shows it. */
export const PrinterView = Type.Object({
  id: Id,
  branchId: Id,
  agentId: Id,
  model: PrinterModel,
  connection: PrinterConnection,
  width: Type.Integer({ description: 'characters per line' }),
  codePage: Type.Union([CodePage, Type.Null()]),
  createdAt: Time,
  updatedAt: Time
})

/** A page of `item`s and the cursor of the next page (null on the last). */
export function Page<T extends ReturnType<typeof Type.Object>> (item: T): ReturnType<typeof Type.Object> {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) })
}

/** Error responses a route documents, by status. */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]))
}
