/** Branches: create, list, read, rename, delete (`/v1/branches`). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch } from '../auth/claims.js'
import { deleteEmptyBranch, findBranch, insertBranch, listBranches, updateBranch } from '../db/branches-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { BranchExistsError, BranchNotEmptyError, BranchNotFoundError, ForbiddenError } from '../errors.js'
import { pageOf, pageRequest } from '../pagination.js'
import { BranchParams, BranchView, errorResponses, Id, Name, Page, PageQuery } from '../schemas.js'
import { branchView } from '../views.js'

const tags = ['branches']
const security = [{ bearerAuth: [] }]

/** Branch routes (see the file comment). */
export const branchRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/branches', {
    onRequest: requireRole('admin'),
    config: { idempotent: true },
    schema: {
      tags, security,
      body: Type.Object({ id: Id, name: Name }, { additionalProperties: false }),
      response: { 201: BranchView, ...errorResponses(400, 401, 403, 409) }
    }
  }, async (request, reply) => {
    const { auth } = request
    if (!canAccessBranch(auth, request.body.id)) throw new ForbiddenError('the token is limited to other branches')
    const row = await withTenant(deps.db, auth.tenant, (trx) => insertBranch(trx, auth.tenant, { id: request.body.id, name: request.body.name ?? null }))
    if (row === null) throw new BranchExistsError(request.body.id)
    request.log.info({ branch: row.id }, 'branch created')
    return await reply.code(201).send(branchView(row))
  })

  app.get('/v1/branches', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags, security, querystring: PageQuery, response: { 200: Page(BranchView), ...errorResponses(400, 401) } }
  }, async (request) => {
    const { auth } = request
    const page = pageRequest(request.query)
    const rows = await withTenant(deps.db, auth.tenant, (trx) => listBranches(trx, { ...page, only: auth.branches }))
    return pageOf(rows, page, branchView)
  })

  app.get('/v1/branches/:branchId', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: { tags, security, params: BranchParams, response: { 200: BranchView, ...errorResponses(400, 401, 404) } }
  }, async (request) => {
    const { auth } = request
    const { branchId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const row = await withTenant(deps.db, auth.tenant, (trx) => findBranch(trx, branchId))
    if (row === null) throw new BranchNotFoundError(branchId)
    return branchView(row)
  })

  app.patch('/v1/branches/:branchId', {
    onRequest: requireRole('admin'),
    schema: {
      tags, security,
      params: BranchParams,
      body: Type.Object({ name: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]) }, { additionalProperties: false }),
      response: { 200: BranchView, ...errorResponses(400, 401, 403, 404) }
    }
  }, async (request) => {
    const { auth } = request
    const { branchId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const row = await withTenant(deps.db, auth.tenant, (trx) => updateBranch(trx, branchId, { name: request.body.name }))
    if (row === null) throw new BranchNotFoundError(branchId)
    request.log.info({ branch: branchId }, 'branch updated')
    return branchView(row)
  })

  app.delete('/v1/branches/:branchId', {
    onRequest: requireRole('admin'),
    schema: { tags, security, params: BranchParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) } }
  }, async (request, reply) => {
    const { auth } = request
    const { branchId } = request.params
    if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const outcome = await withTenant(deps.db, auth.tenant, (trx) => deleteEmptyBranch(trx, branchId))
    if (outcome === 'not-found') throw new BranchNotFoundError(branchId)
    if (outcome === 'not-empty') throw new BranchNotEmptyError(branchId)
    request.log.info({ branch: branchId }, 'branch deleted')
    return await reply.code(204).send(null)
  })
}
