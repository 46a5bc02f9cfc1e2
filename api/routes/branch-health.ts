/**
 * `GET /v1/branches/{branchId}/health`: each agent online / degraded / offline with its
 * connection quality, each printer's status and queue depth. Rules in
 * agents/agent-health-classifier.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { PRINTER_STATES, type PrinterState } from '../../shared/messages.js'
import { classifyAgent, classifyPrinter, type AgentState } from '../agents/agent-health-classifier.js'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { listAgents } from '../db/agents-repository.js'
import { findBranch } from '../db/branches-repository.js'
import { countPendingJobsByPrinter, listPrinters } from '../db/printers-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { BranchNotFoundError } from '../errors.js'
import { BranchParams, errorResponses, Id } from '../schemas.js'

/** Most agents and printers one health answer lists. */
const MAX_ITEMS = 1000
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number> | ReturnType<typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()])

const BranchHealth = Type.Object({
  branchId: Id,
  checkedAt: Type.String({ format: 'date-time' }),
  agents: Type.Array(Type.Object({
    id: Id,
    state: Type.Union([Type.Literal('online'), Type.Literal('degraded'), Type.Literal('offline')]),
    reasons: Type.Array(Type.String()),
    lastSeen: Nullable(Type.String({ format: 'date-time' })),
    rttMs: Nullable(Type.Number()),
    reconnects: Nullable(Type.Integer()),
    version: Nullable(Type.String()),
    uptimeSeconds: Nullable(Type.Number()),
    lastError: Nullable(Type.String())
  })),
  printers: Type.Array(Type.Object({
    id: Id,
    agentId: Id,
    state: Type.Unsafe<PrinterState>({ type: 'string', enum: [...PRINTER_STATES] }),
    detail: Nullable(Type.String()),
    since: Nullable(Type.String({ format: 'date-time' })),
    queueDepth: Type.Integer({ description: 'jobs queued, dispatched or accepted (database)' }),
    agentQueueDepth: Nullable(Type.Integer({ description: "jobs in the agent's local queue (its last health message)" }))
  }))
})

/** The branch health route. */
export const branchHealthRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.get('/v1/branches/:branchId/health', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags: ['branches'], security: [{ bearerAuth: [] }], params: BranchParams, response: { 200: BranchHealth, ...errorResponses(400, 401, 404) } }
  }, async (request) => {
    const { auth } = request
    const { branchId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const { agents, printers, pending } = await withTenant(deps.db, auth.tenant, async (trx) => {
      if (await findBranch(trx, branchId) === null) throw new BranchNotFoundError(branchId)
      return {
        agents: await listAgents(trx, branchId, { after: null, limit: MAX_ITEMS }),
        printers: await listPrinters(trx, branchId, { after: null, limit: MAX_ITEMS }),
        pending: await countPendingJobsByPrinter(trx, branchId)
      }
    })
    const now = Date.now()
    const agentStates = new Map<string, AgentState>()
    const agentQueues = new Map<string, number>()
    const agentViews = agents.map((agent) => {
      const presence = deps.presence.get({ tenant: auth.tenant, branch: branchId, agent: agent.id })
      const health = classifyAgent(presence, now)
      agentStates.set(agent.id, health.state)
      for (const p of presence?.health.printers ?? []) agentQueues.set(p.id, p.queueDepth)
      return { id: agent.id, ...health }
    })
    const printerViews = printers.map((printer) => {
      const status = deps.printerStatus.get({ tenant: auth.tenant, branch: branchId, printer: printer.id })
      return {
        id: printer.id,
        agentId: printer.agent_id,
        ...classifyPrinter(agentStates.get(printer.agent_id) ?? 'offline', status),
        queueDepth: pending.get(printer.id) ?? 0,
        agentQueueDepth: agentQueues.get(printer.id) ?? null
      }
    })
    return { branchId, checkedAt: new Date(now).toISOString(), agents: agentViews, printers: printerViews }
  })
}
