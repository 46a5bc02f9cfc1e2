/**
 * An agent's license (admin): `POST .../license` rotates it (a new key, shown once; the
 * old key stops working and its live MQTT session is closed and cleared), `DELETE
 * .../license` revokes it (the session is closed and cleared, reconnects are refused).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createLicenseKey, hashLicenseKey } from '../../shared/license.js'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { replaceAgentLicense, revokeAgentLicense } from '../db/agent-licenses-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { AgentNotFoundError } from '../errors.js'
import { AgentParams, AgentView, AgentWithLicense, errorResponses } from '../schemas.js'
import { agentView, agentWithLicenseView } from '../views.js'

const tags = ['agents']
const security = [{ bearerAuth: [] }]

export const agentLicenseRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches/:branchId/agents/:agentId/license', {
    onRequest: requireRole('admin'),
    schema: { tags, security, params: AgentParams, response: { 200: AgentWithLicense, ...errorResponses(400, 401, 403, 404) } }
  }, async (request) => {
    const { auth } = request
    const { branchId, agentId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new AgentNotFoundError(agentId)
    const ref = { tenant: auth.tenant, branch: branchId, agent: agentId }
    const licenseKey = createLicenseKey(ref)
    const row = await withTenant(deps.db, auth.tenant, async (trx) => await replaceAgentLicense(trx, branchId, agentId, hashLicenseKey(licenseKey)))
    if (row === null) throw new AgentNotFoundError(agentId)
    // The database no longer accepts the old key; now cut the session it opened.
    const wasConnected = await deps.disconnectAgent(ref)
    request.log.info({ branch: branchId, agent: agentId, wasConnected }, 'agent license rotated')
    return agentWithLicenseView(row, licenseKey, deps.publicMqttUrl(request.headers.host))
  })

  app.delete('/v1/branches/:branchId/agents/:agentId/license', {
    onRequest: requireRole('admin'),
    schema: { tags, security, params: AgentParams, response: { 200: AgentView, ...errorResponses(400, 401, 403, 404) } }
  }, async (request) => {
    const { auth } = request
    const { branchId, agentId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new AgentNotFoundError(agentId)
    const row = await withTenant(deps.db, auth.tenant, async (trx) => await revokeAgentLicense(trx, branchId, agentId))
    if (row === null) throw new AgentNotFoundError(agentId)
    const wasConnected = await deps.disconnectAgent({ tenant: auth.tenant, branch: branchId, agent: agentId })
    request.log.info({ branch: branchId, agent: agentId, wasConnected }, 'agent license revoked')
    return agentView(row, deps.publicMqttUrl(request.headers.host))
  })
}
