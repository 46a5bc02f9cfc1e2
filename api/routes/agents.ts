/** `POST /v1/branches/{branchId}/agents`: create an agent and its license (admin). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { agentMqttIdentity, createLicenseKey, hashLicenseKey } from '../../shared/license.js'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { insertAgent } from '../db/agents-repository.js'
import { findBranch } from '../db/branches-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { AgentExistsError, BranchNotFoundError } from '../errors.js'
import { BranchParams, Id, Name } from '../schemas.js'
import { agentView } from '../views.js'

export const agentRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches/:branchId/agents', {
    onRequest: requireRole('admin'),
    schema: {
      params: BranchParams,
      body: Type.Object({ id: Id, name: Name }, { additionalProperties: false })
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
    return await reply.code(201).send({ ...agentView(row), licenseKey, mqtt: { url: deps.publicMqttUrl(request.headers.host), ...agentMqttIdentity(ref) } })
  })
}
