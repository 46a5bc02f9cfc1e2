/**
 * Bearer-token authentication for routes. @fastify/jwt verifies signature, algorithm
 * (pinned), `exp` (required), `nbf`, issuer and audience; anything it rejects, however
 * malformed, becomes a 401 with a JSON body here, never a 500.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ForbiddenError, UnauthorizedError } from '../errors.js'
import { readClaims, type AuthContext, type Role } from './claims.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; set by {@link requireRole}. */
    auth: AuthContext
  }
}

/** An onRequest hook that admits only tokens with one of `roles`. */
export function requireRole (...roles: Role[]): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request) => {
    let payload: unknown
    try {
      payload = await request.jwtVerify()
    } catch (err) {
      const reason = (err as { code?: string }).code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER'
        ? 'missing bearer token'
        : 'invalid or expired token'
      request.log.info({ reason: (err as Error).message }, 'token refused')
      throw new UnauthorizedError(reason)
    }
    const claims = readClaims(payload)
    if (typeof claims === 'string') throw new UnauthorizedError(claims)
    if (!roles.includes(claims.role)) throw new ForbiddenError(`role ${claims.role} may not use this route`)
    request.auth = claims
  }
}
