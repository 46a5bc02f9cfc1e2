/**
 * The claims printmq reads from a JWT (design §3): `sub`, `tenant`, `role`, optional
 * `branches`. Shared by the HTTP API and the broker's technician logins.
 */
import { isValidId } from '../../shared/ids.js'

/** Roles, from most to least powerful. */
export const ROLES = ['admin', 'operator', 'technician'] as const
/** A role. */
export type Role = typeof ROLES[number]

/** Who is calling, after the token was verified. */
export interface AuthContext {
  readonly subject: string
  readonly tenant: string
  readonly role: Role
  /** `null`: every branch of the tenant. */
  readonly branches: readonly string[] | null
}

/** The claims as an AuthContext, or the reason they are unacceptable. */
export function readClaims (payload: unknown): AuthContext | string {
  if (typeof payload !== 'object' || payload === null) return 'token payload is not an object'
  const claims = payload as Record<string, unknown>
  if (!isValidId(claims.tenant)) return 'token has no valid tenant claim'
  if (typeof claims.role !== 'string' || !(ROLES as readonly string[]).includes(claims.role)) return 'token has no valid role claim'
  const subject = typeof claims.sub === 'string' && claims.sub.length > 0 && claims.sub.length <= 256 ? claims.sub : null
  if (subject === null) return 'token has no valid sub claim'
  let branches: string[] | null = null
  if (claims.branches !== undefined) {
    if (!Array.isArray(claims.branches) || claims.branches.length > 1000 || !claims.branches.every(isValidId)) return 'branches claim must be an array of ids'
    branches = claims.branches
  }
  return { subject, tenant: claims.tenant, role: claims.role as Role, branches }
}

/** May this caller act on `branch`? */
export function canAccessBranch (auth: AuthContext, branch: string): boolean {
  return auth.branches === null || auth.branches.includes(branch)
}
