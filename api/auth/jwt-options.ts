/**
 * How the API verifies tokens: one pinned algorithm (HS256 with a shared secret, or
 * RS256 / ES256 with a public key so a platform's own auth server issues tokens),
 * `exp` required, `nbf` honoured, issuer and audience checked when configured. A key
 * that does not fit the algorithm is refused at start, so a misconfiguration cannot
 * quietly accept the wrong tokens.
 */
import { createPublicKey } from 'node:crypto'
import type { FastifyJWTOptions } from '@fastify/jwt'

/** Algorithms the API can be configured with. */
export const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const
/** One of {@link JWT_ALGORITHMS}. */
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number]

/** Token verification settings. */
export type JwtVerification = {
  readonly issuer?: string
  readonly audience?: string
} & (
  | { readonly algorithm?: 'HS256', readonly secret: string }
  | { readonly algorithm: 'RS256' | 'ES256', readonly publicKey: string }
)

/** Options for @fastify/jwt. Throws when the key does not fit the algorithm. */
export function jwtPluginOptions (jwt: JwtVerification): FastifyJWTOptions {
  const algorithm = jwt.algorithm ?? 'HS256'
  const verify = {
    algorithms: [algorithm],
    // fast-jwt checks iss/aud only when present: require them when they are configured.
    requiredClaims: ['exp', ...(jwt.issuer !== undefined ? ['iss'] : []), ...(jwt.audience !== undefined ? ['aud'] : [])],
    ...(jwt.issuer !== undefined ? { allowedIss: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { allowedAud: jwt.audience } : {}),
    // fast-jwt's cache of verified tokens (1,000, keyed by a hash of the whole token):
    // a web app sends the same token with every request, and checking its signature and
    // claims each time was about 3% of the server's CPU per job. An entry never outlives
    // the token's exp (nor starts before its nbf); failures are not cached.
    cache: true
  }
  if (!('publicKey' in jwt)) return { secret: jwt.secret, sign: { algorithm: 'HS256' }, verify }
  const key = createPublicKey(jwt.publicKey)
  const expected = algorithm === 'RS256' ? 'rsa' : 'ec'
  if (key.asymmetricKeyType !== expected) throw new TypeError(`the public key is ${String(key.asymmetricKeyType)}, ${algorithm} needs ${expected}`)
  if (algorithm === 'ES256' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('ES256 needs a P-256 (prime256v1) key')
  // Verification only: the API never signs with the platform's keys.
  return { secret: { public: jwt.publicKey }, verify }
}
