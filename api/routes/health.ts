/** `/healthz` (the process answers) and `/readyz` (database and broker reachable). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiDeps } from '../deps.js'
import { ServiceUnavailableError } from '../errors.js'

export const healthRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async () => {
    const ready = await deps.readiness()
    if (!ready.database) throw new ServiceUnavailableError('database not ready')
    if (!ready.broker) throw new ServiceUnavailableError('broker not ready')
    return { status: 'ready', ...ready }
  })
}
