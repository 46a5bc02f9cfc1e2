/**
 * Test pages (admin, technician): a short ticket naming the printer, its agent, the
 * time and who asked, submitted as an ordinary job so it is followed like any other.
 * Printer ids are unique per branch, so the branch comes from the path
 * (`/v1/branches/{branchId}/printers/{printerId}/test-print`) or, on the short path
 * `/v1/printers/{printerId}/test-print`, from the body's `branchId`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireRole } from '../auth/authenticate.js'
import type { AuthContext } from '../auth/claims.js'
import { canAccessBranch } from '../auth/claims.js'
import { findPrinter } from '../db/printers-repository.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ApiDeps } from '../deps.js'
import { PrinterNotFoundError } from '../errors.js'
import { errorResponses, Id, PrinterParams } from '../schemas.js'
import { jobView } from '../views.js'

/** A test page is stale after this many seconds (someone is standing at the printer). */
const TEST_PAGE_TTL_SECONDS = 120

const QueuedJob = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description: 'the queued job, as GET /v1/print-jobs/{id} shows it' })
const tags = ['printers']
const security = [{ bearerAuth: [] }]

/** The two test-print routes. */
export const testPrintRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  async function testPrint (auth: AuthContext, branchId: string, printerId: string, correlationId: string): Promise<Record<string, unknown>> {
    if (!canAccessBranch(auth, branchId)) throw new PrinterNotFoundError(printerId)
    const printer = await withTenant(deps.db, auth.tenant, (trx) => findPrinter(trx, branchId, printerId))
    if (printer === null) throw new PrinterNotFoundError(printerId)
    const text = [
      'printmq test page',
      `printer: ${printer.id} (${printer.model}, ${printer.width} columns)`,
      `branch:  ${branchId}`,
      `agent:   ${printer.agent_id}`,
      `time:    ${new Date().toISOString()}`,
      `by:      ${auth.subject}`
    ].join('\n')
    const job = await deps.jobs.submit(auth, { branchId, printerId, content: { type: 'text', text }, ttlSeconds: TEST_PAGE_TTL_SECONDS, reference: 'test-page' }, correlationId)
    return jobView(job, null)
  }

  app.post('/v1/branches/:branchId/printers/:printerId/test-print', {
    onRequest: requireRole('admin', 'technician'),
    schema: { tags, security, summary: 'print a test page', params: PrinterParams, response: { 202: QueuedJob, ...errorResponses(400, 401, 403, 404, 429) } }
  }, async (request, reply) => {
    const { branchId, printerId } = request.params
    const job = await testPrint(request.auth, branchId, printerId, request.id)
    return await reply.code(202).header('location', `/v1/print-jobs/${String(job.id)}`).send(job)
  })

  app.post('/v1/printers/:printerId/test-print', {
    onRequest: requireRole('admin', 'technician'),
    schema: {
      tags, security,
      summary: 'print a test page (branch in the body)',
      params: Type.Object({ printerId: Id }),
      body: Type.Object({ branchId: Id }, { additionalProperties: false }),
      response: { 202: QueuedJob, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async (request, reply) => {
    const job = await testPrint(request.auth, request.body.branchId, request.params.printerId, request.id)
    return await reply.code(202).header('location', `/v1/print-jobs/${String(job.id)}`).send(job)
  })
}
