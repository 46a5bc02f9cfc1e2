/**
 * Printer discovery (`/v1/branches/{branchId}/agents/{agentId}/discovery`, admin and
 * technician): ask an online agent to list its serial ports and printer device files
 * and to probe the TCP addresses named (default port 9100) with an ESC/POS status
 * request; read the report once the agent sent it (`?wait=` long-polls). What is found
 * is registered as usual with `POST /v1/branches/{branchId}/printers`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import {
  DISCOVERY_REPORT_FIELDS, DISCOVERY_TIMEOUT_MS, DiscoveredPort, DiscoveryTcpTargets, TcpProbeResult, type DiscoveryReportBody
} from '../../shared/discovery-messages.js'
import { requireRole } from '../auth/authenticate.js'
import type { DiscoveryRow } from '../db/discoveries-repository.js'
import { pathKey, tcpKey } from '../discovery/discovery-service.js'
import type { ApiDeps } from '../deps.js'
import { InvalidRequestError } from '../errors.js'
import { AgentParams, errorResponses, Id, JobId } from '../schemas.js'

/** Longest `?wait=` in seconds. */
export const MAX_DISCOVERY_WAIT_SECONDS = 60

const tags = ['discovery']
const security = [{ bearerAuth: [] }]
const Time = Type.String({ format: 'date-time' })

const DiscoveryBody = Type.Object({
  serial: Type.Optional(Type.Boolean({ description: 'list serial ports and printer device files (default true)' })),
  tcp: Type.Optional(Type.Object({
    /** Host names or addresses, each named: no ranges, no CIDR blocks. */
    hosts: DiscoveryTcpTargets.properties.hosts,
    /** Default [9100]. */
    ports: Type.Optional(DiscoveryTcpTargets.properties.ports)
  }, { additionalProperties: false })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: DISCOVERY_TIMEOUT_MS.min, maximum: DISCOVERY_TIMEOUT_MS.max, description: `per step of a TCP probe (connect, each status answer); default ${DISCOVERY_TIMEOUT_MS.default}` }))
}, { additionalProperties: false })

const RegisteredAs = Type.Union([Id, Type.Null()], { description: 'the id of the printer of this branch registered with this connection, if any' })

/** The report as the API shows it: the agent's, each finding marked with the printer registered for it. */
const ReportView = Type.Object({
  serial: Type.Object({
    ...DISCOVERY_REPORT_FIELDS.serial.properties,
    ports: Type.Array(Type.Object({ ...DiscoveredPort.properties, registeredAs: RegisteredAs }))
  }),
  tcp: Type.Array(Type.Object({ ...TcpProbeResult.properties, registeredAs: RegisteredAs })),
  durationMs: DISCOVERY_REPORT_FIELDS.durationMs
})

/** A discovery as the API shows it. */
export const DiscoveryView = Type.Object({
  id: JobId,
  branchId: Id,
  agentId: Id,
  state: Type.Union([Type.Literal('pending'), Type.Literal('completed'), Type.Literal('expired')]),
  request: Type.Object({
    serial: Type.Boolean(),
    tcp: Type.Optional(Type.Object({ hosts: Type.Array(Type.String()), ports: Type.Array(Type.Integer()) })),
    timeoutMs: Type.Integer()
  }),
  report: Type.Union([ReportView, Type.Null()], { description: 'null until the agent reported' }),
  requestedBy: Type.String(),
  correlationId: Type.String(),
  createdAt: Time,
  expiresAt: Time,
  completedAt: Type.Union([Time, Type.Null()])
})

/**
 * A discovery row as {@link DiscoveryView}; a pending one past its expiry is `expired`.
 * `registered` maps connections to printer ids (DiscoveryService.registeredPrinters).
 */
export function discoveryView (row: DiscoveryRow, registered: ReadonlyMap<string, string> = new Map(), now = Date.now()): Static<typeof DiscoveryView> {
  const state = row.state === 'completed' ? 'completed' : row.expires_at.getTime() <= now ? 'expired' : 'pending'
  const report = row.report as Omit<DiscoveryReportBody, 'discoveryId'> | null
  return {
    id: row.id,
    branchId: row.branch_id,
    agentId: row.agent_id,
    state,
    request: row.request as Static<typeof DiscoveryView>['request'],
    report: report === null
      ? null
      : {
          ...report,
          serial: { ...report.serial, ports: report.serial.ports.map((p) => ({ ...p, registeredAs: registered.get(pathKey(p.type, p.path)) ?? null })) },
          tcp: report.tcp.map((r) => ({ ...r, registeredAs: registered.get(tcpKey(r.host, r.port)) ?? null }))
        },
    requestedBy: row.requested_by,
    correlationId: row.correlation_id,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null
  }
}

const DiscoveryParams = Type.Object({ ...AgentParams.properties, discoveryId: JobId })

/** Discovery routes (see the file comment). */
export const discoveryRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches/:branchId/agents/:agentId/discovery', {
    onRequest: requireRole('admin', 'technician'),
    schema: {
      tags, security,
      summary: 'ask an agent to look for printers',
      params: AgentParams,
      body: DiscoveryBody,
      response: { 202: DiscoveryView, ...errorResponses(400, 401, 403, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const { branchId, agentId } = request.params
    if (request.body.serial === false && request.body.tcp === undefined) {
      throw new InvalidRequestError('nothing to discover: set serial to true or name tcp hosts')
    }
    const row = await deps.discovery.request(request.auth, branchId, agentId, request.body, request.id)
    return await reply.code(202)
      .header('location', `/v1/branches/${branchId}/agents/${agentId}/discovery/${row.id}`)
      .send(discoveryView(row))
  })

  app.get('/v1/branches/:branchId/agents/:agentId/discovery', {
    onRequest: requireRole('admin', 'technician'),
    schema: {
      tags, security,
      summary: 'the agent\'s recent discoveries, newest first',
      params: AgentParams,
      response: { 200: Type.Object({ items: Type.Array(DiscoveryView) }), ...errorResponses(400, 401, 403, 404) }
    }
  }, async (request) => {
    const { branchId, agentId } = request.params
    const rows = await deps.discovery.list(request.auth, branchId, agentId)
    const registered = rows.some((row) => row.report !== null) ? await deps.discovery.registeredPrinters(request.auth, branchId) : undefined
    return { items: rows.map((row) => discoveryView(row, registered)) }
  })

  app.get('/v1/branches/:branchId/agents/:agentId/discovery/:discoveryId', {
    onRequest: requireRole('admin', 'technician'),
    schema: {
      tags, security,
      summary: 'one discovery and, once the agent reported, what it found',
      params: DiscoveryParams,
      querystring: Type.Object({
        wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_DISCOVERY_WAIT_SECONDS, description: 'seconds to wait for the report' }))
      }, { additionalProperties: false }),
      response: { 200: DiscoveryView, ...errorResponses(400, 401, 403, 404) }
    }
  }, async (request) => {
    const { branchId, agentId, discoveryId } = request.params
    const row = await deps.discovery.waitForReport(request.auth, branchId, agentId, discoveryId, (request.query.wait ?? 0) * 1000)
    return discoveryView(row, row.report !== null ? await deps.discovery.registeredPrinters(request.auth, branchId) : undefined)
  })
}
