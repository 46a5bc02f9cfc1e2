/** `POST /v1/branches/{branchId}/printers`: register a printer with its agent (admin). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { PrinterConnection, PrinterModel } from '../../shared/messages.js'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { findAgent } from '../db/agents-repository.js'
import { findBranch } from '../db/branches-repository.js'
import { insertPrinter } from '../db/printers-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { AgentNotFoundError, BranchNotFoundError, PrinterExistsError } from '../errors.js'
import { BranchParams, Id } from '../schemas.js'
import { printerView } from '../views.js'

/** Characters per line of an 80 mm roll at the default font, Epson and Star alike. */
export const DEFAULT_PAPER_WIDTH = 48

export const printerRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches/:branchId/printers', {
    onRequest: requireRole('admin'),
    schema: {
      params: BranchParams,
      body: Type.Object({
        id: Id,
        agentId: Id,
        model: PrinterModel,
        connection: PrinterConnection,
        width: Type.Optional(Type.Integer({ minimum: 16, maximum: 128, description: 'characters per line' }))
      }, { additionalProperties: false })
    }
  }, async (request, reply) => {
    const { auth } = request
    const { branchId } = request.params
    const body = request.body
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const row = await withTenant(deps.db, auth.tenant, async (trx) => {
      if (await findBranch(trx, branchId) === null) throw new BranchNotFoundError(branchId)
      if (await findAgent(trx, branchId, body.agentId) === null) throw new AgentNotFoundError(body.agentId)
      return await insertPrinter(trx, {
        tenant: auth.tenant, branch: branchId, id: body.id, agentId: body.agentId,
        model: body.model, connection: body.connection, width: body.width ?? DEFAULT_PAPER_WIDTH
      })
    })
    if (row === null) throw new PrinterExistsError(body.id)
    request.log.info({ branch: branchId, printer: row.id, agent: row.agent_id }, 'printer created')
    try {
      await deps.publishAgentConfig({ tenant: auth.tenant, branch: branchId, agent: row.agent_id }, request.id)
    } catch (err) {
      // The printer is stored; the agent gets its config when it (re)connects.
      request.log.warn({ err }, 'agent config not published now')
    }
    return await reply.code(201).send(printerView(row))
  })
}
