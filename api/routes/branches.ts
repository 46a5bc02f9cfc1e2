/** `POST /v1/branches`: create a branch (admin). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { insertBranch } from '../db/branches-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { BranchExistsError, ForbiddenError } from '../errors.js'
import { Id, Name } from '../schemas.js'
import { branchView } from '../views.js'

export const branchRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches', {
    onRequest: requireRole('admin'),
    schema: {
      body: Type.Object({ id: Id, name: Name }, { additionalProperties: false })
    }
  }, async (request, reply) => {
    const { auth } = request
    if (!canAccessBranch(auth, request.body.id)) throw new ForbiddenError('the token is limited to other branches')
    const row = await withTenant(deps.db, auth.tenant, (trx) => insertBranch(trx, auth.tenant, { id: request.body.id, name: request.body.name ?? null }))
    if (row === null) throw new BranchExistsError(request.body.id)
    request.log.info({ branch: row.id }, 'branch created')
    return await reply.code(201).send(branchView(row))
  })
}
