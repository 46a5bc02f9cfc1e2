/**
 * Verifies the JWT a technician sends as the MQTT password, with exactly the rules of
 * the HTTP API ({@link jwtPluginOptions}: the one configured algorithm, `exp` required,
 * `nbf` honoured, issuer and audience required and checked when configured), claims
 * read by {@link readClaims}; only the `technician` role is accepted.
 */
import { createVerifier, type Algorithm } from 'fast-jwt'
import { readClaims } from './claims.js'
import { jwtPluginOptions, type JwtVerification } from './jwt-options.js'

/** A technician the token names. */
export interface TechnicianIdentity {
  readonly tenant: string
  /** `null`: every branch of the tenant. */
  readonly branches: readonly string[] | null
  readonly subject: string
  /** When the token expires (ms since the epoch): the broker ends the session then. */
  readonly expiresAt: number
}

/** Longest token accepted, in bytes: a bound on work per CONNECT. */
const MAX_TOKEN_BYTES = 8192

interface VerifyRules {
  readonly algorithms: string[]
  readonly requiredClaims: string[]
  readonly allowedIss?: string
  readonly allowedAud?: string
}

/** Build the function the broker calls for `technician` logins; `null` for any bad token. */
export function createTechnicianVerifier (jwt: JwtVerification): (token: string) => Promise<TechnicianIdentity | null> {
  const rules = jwtPluginOptions(jwt).verify as VerifyRules
  const verify = createVerifier({
    key: 'publicKey' in jwt ? jwt.publicKey : jwt.secret,
    algorithms: rules.algorithms as Algorithm[],
    requiredClaims: rules.requiredClaims,
    ...(rules.allowedIss !== undefined ? { allowedIss: rules.allowedIss } : {}),
    ...(rules.allowedAud !== undefined ? { allowedAud: rules.allowedAud } : {})
  })
  return async (token) => {
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return null
    let payload: unknown
    try {
      payload = verify(token)
    } catch {
      return null
    }
    const claims = readClaims(payload)
    if (typeof claims === 'string' || claims.role !== 'technician') return null
    // `exp` is a required claim (checked by the verifier): seconds since the epoch.
    const exp = (payload as { exp?: unknown }).exp
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return null
    return { tenant: claims.tenant, branches: claims.branches, subject: claims.subject, expiresAt: exp * 1000 }
  }
}
