/**
 * Printers of a branch (`/v1/branches/{branchId}/printers`): register, list, read,
 * change, delete (admin). Every change re-publishes the retained config of the agents
 * concerned at once, so they drive the printer as it is now.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import Type from 'typebox'
import type { AgentRef } from '../../shared/ids.js'
import { PrinterConnection, PrinterModel } from '../../shared/messages.js'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { findAgent } from '../db/agents-repository.js'
import { findBranch } from '../db/branches-repository.js'
import { deleteIdlePrinter, findPrinter, insertPrinter, listPrinters, updatePrinter } from '../db/printers-repository.js'
import { afterCommit, withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { AgentNotFoundError, BranchNotFoundError, PrinterBusyError, PrinterExistsError, PrinterNotFoundError } from '../errors.js'
import { listInBranch, readInBranch } from './branch-resources.js'
import { BranchParams, CodePage, errorResponses, Id, Page, PageQuery, PrinterParams, PrinterView } from '../schemas.js'
import { printerView } from '../views.js'

/** Characters per line of an 80 mm roll at the default font, Epson and Star alike. */
export const DEFAULT_PAPER_WIDTH = 48

const Width = Type.Integer({ minimum: 16, maximum: 128, description: 'characters per line' })
const tags = ['printers']
const security = [{ bearerAuth: [] }]

/** Printer routes (see the file comment). */
export const printerRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  /**
   * Re-publish the agents' configs once the change is committed: at once, or, inside an
   * `Idempotency-Key` request (one transaction around the route), right after that
   * transaction commits, so an agent never gets a printer that a rollback removes again.
   * A failure only delays it until the agent reconnects.
   */
  async function republish (log: FastifyBaseLogger, refs: readonly AgentRef[], correlationId: string): Promise<void> {
    const publishing: Array<Promise<void>> = []
    afterCommit(() => { publishing.push(publishConfigs(log, refs, correlationId)) })
    await Promise.all(publishing)
  }

  async function publishConfigs (log: FastifyBaseLogger, refs: readonly AgentRef[], correlationId: string): Promise<void> {
    for (const ref of refs) {
      try {
        await deps.publishAgentConfig(ref, correlationId)
      } catch (err) {
        // The change is stored; the agent gets its config when it (re)connects.
        log.warn({ err, agent: ref.agent }, 'agent config not published now')
      }
    }
  }

  app.post('/v1/branches/:branchId/printers', {
    onRequest: requireRole('admin'),
    config: { idempotent: true },
    schema: {
      tags, security,
      params: BranchParams,
      body: Type.Object({
        id: Id,
        agentId: Id,
        model: PrinterModel,
        connection: PrinterConnection,
        width: Type.Optional(Width),
        codePage: Type.Optional(CodePage)
      }, { additionalProperties: false }),
      response: { 201: PrinterView, ...errorResponses(400, 401, 403, 404, 409) }
    }
  }, async (request, reply) => {
    const { auth } = request
    const { branchId } = request.params
    const body = request.body
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const row = await withTenant(deps.db, auth.tenant, async (trx) => {
      if (await findBranch(trx, branchId) === null) throw new BranchNotFoundError(branchId)
      if (await findAgent(trx, branchId, body.agentId) === null) throw new AgentNotFoundError(body.agentId)
      const inserted = await insertPrinter(trx, {
        tenant: auth.tenant, branch: branchId, id: body.id, agentId: body.agentId,
        model: body.model, connection: body.connection, width: body.width ?? DEFAULT_PAPER_WIDTH
      })
      if (inserted === null || body.codePage === undefined) return inserted
      return await updatePrinter(trx, branchId, body.id, { codePage: body.codePage })
    })
    if (row === null) throw new PrinterExistsError(body.id)
    request.log.info({ branch: branchId, printer: row.id, agent: row.agent_id }, 'printer created')
    await republish(request.log, [{ tenant: auth.tenant, branch: branchId, agent: row.agent_id }], request.id)
    return await reply.code(201).send(printerView(row))
  })

  app.get('/v1/branches/:branchId/printers', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags, security, params: BranchParams, querystring: PageQuery, response: { 200: Page(PrinterView), ...errorResponses(400, 401, 404) } }
  }, async (request) => await listInBranch(deps.db, request.auth, request.params.branchId, request.query, listPrinters, printerView))

  app.get('/v1/branches/:branchId/printers/:printerId', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags, security, params: PrinterParams, response: { 200: PrinterView, ...errorResponses(400, 401, 404) } }
  }, async (request) => {
    const { branchId, printerId } = request.params
    return printerView(await readInBranch(deps.db, request.auth, branchId, (trx) => findPrinter(trx, branchId, printerId), () => new PrinterNotFoundError(printerId)))
  })

  app.patch('/v1/branches/:branchId/printers/:printerId', {
    onRequest: requireRole('admin'),
    schema: {
      tags, security,
      params: PrinterParams,
      body: Type.Object({
        agentId: Type.Optional(Id),
        model: Type.Optional(PrinterModel),
        connection: Type.Optional(PrinterConnection),
        width: Type.Optional(Width),
        codePage: Type.Optional(Type.Union([CodePage, Type.Null()]))
      }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: PrinterView, ...errorResponses(400, 401, 403, 404) }
    }
  }, async (request) => {
    const { auth } = request
    const { branchId, printerId } = request.params
    const body = request.body
    if (!canAccessBranch(auth, branchId)) throw new PrinterNotFoundError(printerId)
    const { before, after } = await withTenant(deps.db, auth.tenant, async (trx) => {
      const current = await findPrinter(trx, branchId, printerId)
      if (current === null) throw new PrinterNotFoundError(printerId)
      if (body.agentId !== undefined && await findAgent(trx, branchId, body.agentId) === null) throw new AgentNotFoundError(body.agentId)
      const updated = await updatePrinter(trx, branchId, printerId, body)
      if (updated === null) throw new PrinterNotFoundError(printerId)
      return { before: current, after: updated }
    })
    request.log.info({ branch: branchId, printer: printerId, agent: after.agent_id }, 'printer updated')
    const agents = new Set([before.agent_id, after.agent_id])
    await republish(request.log, [...agents].map((agent) => ({ tenant: auth.tenant, branch: branchId, agent })), request.id)
    return printerView(after)
  })

  app.delete('/v1/branches/:branchId/printers/:printerId', {
    onRequest: requireRole('admin'),
    schema: { tags, security, params: PrinterParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) } }
  }, async (request, reply) => {
    const { auth } = request
    const { branchId, printerId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new PrinterNotFoundError(printerId)
    const result = await withTenant(deps.db, auth.tenant, (trx) => deleteIdlePrinter(trx, branchId, printerId))
    if (result.outcome === 'not-found') throw new PrinterNotFoundError(printerId)
    if (result.outcome === 'busy') throw new PrinterBusyError(printerId)
    request.log.info({ branch: branchId, printer: printerId }, 'printer deleted')
    await republish(request.log, [{ tenant: auth.tenant, branch: branchId, agent: result.row.agent_id }], request.id)
    return await reply.code(204).send(null)
  })
}
