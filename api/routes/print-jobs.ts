/**
 * Print jobs: submit (`POST /v1/print-jobs`), list, follow (`GET /v1/print-jobs/{id}`),
 * cancel and reprint. Creating POSTs honour `Idempotency-Key` (api/idempotency/).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { JOB_STATES } from '../../shared/job-states.js'
import { JobContent } from '../../shared/messages.js'
import { requireRole } from '../auth/authenticate.js'
import type { JobRow } from '../db/jobs-repository.js'
import type { ApiDeps } from '../deps.js'
import { InvalidRequestError } from '../errors.js'
import { MAX_TTL_SECONDS } from '../jobs/job-service.js'
import { Id, JobId } from '../schemas.js'
import { jobView } from '../views.js'

/** Longest `?wait=` in seconds. */
export const MAX_WAIT_SECONDS = 60
/** Largest page of `GET /v1/print-jobs`. */
export const MAX_PAGE_SIZE = 200

const TtlSeconds = Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS })

function view (job: JobRow, events: Parameters<typeof jobView>[1]): Record<string, unknown> {
  return { ...jobView(job, events), reprintOf: job.reprint_of }
}

/** The optional `{ ttlSeconds }` body of a reprint; an absent body is `{}`. */
function reprintOptions (body: unknown): { ttlSeconds?: number } {
  if (body === undefined || body === null) return {}
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('body must be an object')
  const { ttlSeconds, ...rest } = body as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new InvalidRequestError(`body must NOT have additional property ${unknown}`)
  if (ttlSeconds === undefined) return {}
  if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new InvalidRequestError(`/ttlSeconds must be an integer 1-${MAX_TTL_SECONDS}`)
  }
  return { ttlSeconds }
}

export const printJobRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.post('/v1/print-jobs', {
    onRequest: requireRole('admin', 'operator'),
    config: { idempotent: true },
    schema: {
      body: Type.Object({
        branchId: Id,
        printerId: Id,
        content: JobContent,
        copies: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
        ttlSeconds: Type.Optional(TtlSeconds),
        reference: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'your order id' }))
      }, { additionalProperties: false })
    }
  }, async (request, reply) => {
    const job = await deps.jobs.submit(request.auth, request.body, request.id)
    return await reply.code(202).header('location', `/v1/print-jobs/${job.id}`).send(view(job, null))
  })

  app.get('/v1/print-jobs', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: {
      querystring: Type.Object({
        branchId: Type.Optional(Id),
        printerId: Type.Optional(Id),
        state: Type.Optional(Type.Union(JOB_STATES.map((s) => Type.Literal(s)))),
        since: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'ISO 8601: jobs created at or after' })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE })),
        cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' }))
      }, { additionalProperties: false })
    }
  }, async (request) => {
    const page = await deps.jobs.list(request.auth, request.query)
    return { items: page.jobs.map((job) => view(job, null)), nextCursor: page.nextCursor }
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
    return view(job, events)
  })

  app.post('/v1/print-jobs/:id/cancel', {
    onRequest: requireRole('admin', 'operator'),
    schema: { params: Type.Object({ id: JobId }) }
  }, async (request) => {
    const job = await deps.jobs.cancel(request.auth, request.params.id, request.id)
    return view(job, null)
  })

  app.post('/v1/print-jobs/:id/reprint', {
    onRequest: requireRole('admin', 'operator'),
    config: { idempotent: true },
    schema: { params: Type.Object({ id: JobId }) }
  }, async (request, reply) => {
    const job = await deps.jobs.reprint(request.auth, request.params.id, reprintOptions(request.body), request.id)
    return await reply.code(202).header('location', `/v1/print-jobs/${job.id}`).send(view(job, null))
  })
}
