/** Print jobs: submit (`POST /v1/print-jobs`) and follow (`GET /v1/print-jobs/{id}`). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { JobContent } from '../../shared/messages.js'
import { requireRole } from '../auth/authenticate.js'
import type { ApiDeps } from '../deps.js'
import { MAX_TTL_SECONDS } from '../jobs/job-service.js'
import { Id, JobId } from '../schemas.js'
import { jobView } from '../views.js'

/** Longest `?wait=` in seconds. */
export const MAX_WAIT_SECONDS = 60

export const printJobRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/print-jobs', {
    onRequest: requireRole('admin', 'operator'),
    schema: {
      body: Type.Object({
        branchId: Id,
        printerId: Id,
        content: JobContent,
        copies: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
        ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS })),
        reference: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'your order id' }))
      }, { additionalProperties: false })
    }
  }, async (request, reply) => {
    const job = await deps.jobs.submit(request.auth, request.body, request.id)
    return await reply.code(202).header('location', `/v1/print-jobs/${job.id}`).send(jobView(job, null))
  })

  app.get('/v1/print-jobs/:id', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: {
      params: Type.Object({ id: JobId }),
      querystring: Type.Object({
        wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_SECONDS, description: 'seconds to wait for a terminal state' }))
      }, { additionalProperties: false })
    }
  }, async (request) => {
    const waitMs = (request.query.wait ?? 0) * 1000
    const { job, events } = await deps.jobs.waitForOutcome(request.auth, request.params.id, waitMs)
    return jobView(job, events)
  })
}
