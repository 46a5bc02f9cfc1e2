/**
 * Agents of a branch (`/v1/branches/{branchId}/agents`): create (with its license, shown
 * once), list, read, rename, delete. License rotation and revocation live in
 * agent-licenses.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { createLicenseKey, hashLicenseKey } from '../../shared/license.js'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { deleteIdleAgent, findAgent, insertAgent, listAgents, updateAgent } from '../db/agents-repository.js'
import { findBranch } from '../db/branches-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { AgentExistsError, AgentHasPrintersError, AgentNotFoundError, BranchNotFoundError } from '../errors.js'
import { listInBranch, readInBranch } from './branch-resources.js'
import { AgentParams, AgentView, AgentWithLicense, BranchParams, errorResponses, Id, Name, Page, PageQuery } from '../schemas.js'
import { agentView, agentWithLicenseView } from '../views.js'

const tags = ['agents']
const security = [{ bearerAuth: [] }]

/** Agent routes (see the file comment). */
export const agentRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches/:branchId/agents', {
    onRequest: requireRole('admin'),
    schema: {
      tags, security,
      params: BranchParams,
      body: Type.Object({ id: Id, name: Name }, { additionalProperties: false }),
      response: { 201: AgentWithLicense, ...errorResponses(400, 401, 403, 404, 409) }
    }
  }, async (request, reply) => {
    const { auth } = request
    const { branchId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const ref = { tenant: auth.tenant, branch: branchId, agent: request.body.id }
    const licenseKey = createLicenseKey(ref)
    const row = await withTenant(deps.db, auth.tenant, async (trx) => {
      if (await findBranch(trx, branchId) === null) throw new BranchNotFoundError(branchId)
      return await insertAgent(trx, { tenant: auth.tenant, branch: branchId, id: request.body.id, name: request.body.name ?? null, licenseHash: hashLicenseKey(licenseKey) })
    })
    if (row === null) throw new AgentExistsError(request.body.id)
    request.log.info({ branch: branchId, agent: row.id }, 'agent created')
    // The only time the key is shown; the database keeps its hash.
    return await reply.code(201).send(agentWithLicenseView(row, licenseKey, deps.publicMqttUrl(request.headers.host)))
  })

  app.get('/v1/branches/:branchId/agents', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags, security, params: BranchParams, querystring: PageQuery, response: { 200: Page(AgentView), ...errorResponses(400, 401, 404) } }
  }, async (request) => await listInBranch(deps.db, request.auth, request.params.branchId, request.query, listAgents, (row) => agentView(row, deps.publicMqttUrl(request.headers.host))))

  app.get('/v1/branches/:branchId/agents/:agentId', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags, security, params: AgentParams, response: { 200: AgentView, ...errorResponses(400, 401, 404) } }
  }, async (request) => {
    const { branchId, agentId } = request.params
    return agentView(await readInBranch(deps.db, request.auth, branchId, (trx) => findAgent(trx, branchId, agentId), () => new AgentNotFoundError(agentId)), deps.publicMqttUrl(request.headers.host))
  })

  app.patch('/v1/branches/:branchId/agents/:agentId', {
    onRequest: requireRole('admin'),
    schema: {
      tags, security,
      params: AgentParams,
      body: Type.Object({ name: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]) }, { additionalProperties: false }),
      response: { 200: AgentView, ...errorResponses(400, 401, 403, 404) }
    }
  }, async (request) => {
    const { auth } = request
    const { branchId, agentId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new AgentNotFoundError(agentId)
    const row = await withTenant(deps.db, auth.tenant, (trx) => updateAgent(trx, branchId, agentId, { name: request.body.name }))
    if (row === null) throw new AgentNotFoundError(agentId)
    request.log.info({ branch: branchId, agent: agentId }, 'agent updated')
    return agentView(row, deps.publicMqttUrl(request.headers.host))
  })

  app.delete('/v1/branches/:branchId/agents/:agentId', {
    onRequest: requireRole('admin'),
    schema: { tags, security, params: AgentParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) } }
  }, async (request, reply) => {
    const { auth } = request
    const { branchId, agentId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new AgentNotFoundError(agentId)
    const outcome = await withTenant(deps.db, auth.tenant, (trx) => deleteIdleAgent(trx, branchId, agentId))
    if (outcome === 'not-found') throw new AgentNotFoundError(agentId)
    if (outcome === 'has-printers') throw new AgentHasPrintersError(agentId)
    // Its license no longer verifies; close the live session so it cannot keep printing.
    const wasConnected = await deps.disconnectAgent({ tenant: auth.tenant, branch: branchId, agent: agentId })
    request.log.info({ branch: branchId, agent: agentId, wasConnected }, 'agent deleted')
    return await reply.code(204).send(null)
  })
}
