/**
 * Builds the Fastify application: JSON errors with stable codes, correlation ids,
 * JWT auth with a pinned algorithm, and the v1 routes. `server/` runs it.
 */
import fastifyJwt from '@fastify/jwt'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { isValidCorrelationId, newId } from '../shared/ids.js'
import type { Logger } from '../shared/logger.js'
import { JWT_ALGORITHM } from './auth/tokens.js'
import type { ApiDeps } from './deps.js'
import { installErrorHandlers } from './error-handler.js'
import { agentRoutes } from './routes/agents.js'
import { branchRoutes } from './routes/branches.js'
import { healthRoutes } from './routes/health.js'
import { printJobRoutes } from './routes/print-jobs.js'
import { printerRoutes } from './routes/printers.js'

/** Header carrying the correlation id in both directions. */
export const CORRELATION_HEADER = 'x-correlation-id'

/** Options of {@link buildApp}. */
export interface AppOptions {
  readonly deps: ApiDeps
  readonly logger: Logger
  readonly jwt: { readonly secret: string, readonly issuer?: string, readonly audience?: string }
  /** Largest request body in bytes. */
  readonly bodyLimit?: number
}

/** Build (not start) the API. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimit ?? 1024 * 1024
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit,
    // The correlation id is the request id: taken from the header when valid, else new.
    genReqId: (req) => {
      const header = req.headers[CORRELATION_HEADER]
      return isValidCorrelationId(header) ? header : newId()
    },
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  installErrorHandlers(app, bodyLimit)
  // JSON only: without this, Fastify's built-in text parser would accept text/plain.
  app.removeContentTypeParser('text/plain')
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(CORRELATION_HEADER, request.id)
  })

  await app.register(fastifyJwt, {
    secret: options.jwt.secret,
    sign: { algorithm: JWT_ALGORITHM },
    verify: {
      algorithms: [JWT_ALGORITHM],
      requiredClaims: ['exp'],
      ...(options.jwt.issuer !== undefined ? { allowedIss: options.jwt.issuer } : {}),
      ...(options.jwt.audience !== undefined ? { allowedAud: options.jwt.audience } : {})
    }
  })

  await app.register(healthRoutes, options.deps)
  await app.register(branchRoutes, options.deps)
  await app.register(agentRoutes, options.deps)
  await app.register(printerRoutes, options.deps)
  await app.register(printJobRoutes, options.deps)
  return app
}
