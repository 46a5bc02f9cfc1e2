/**
 * Hand-made JWTs for auth tests, signed with node:crypto directly so that tokens no
 * well-behaved library would produce (alg none, key confusion) can be made too.
 */
import { createHmac, sign, type KeyObject } from 'node:crypto'

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A token with `alg: none` and an empty signature. */
export function unsignedToken (payload: Record<string, unknown>): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`
}

/** An HMAC token (HS256, HS384, HS512) signed with `secret` (a string or any bytes, e.g. a PEM). */
export function hmacToken (alg: 'HS256' | 'HS384' | 'HS512', secret: string | Buffer, payload: Record<string, unknown>): string {
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg]
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`
}

/** An RS256 or ES256 token signed with `privateKey`. */
export function asymmetricToken (alg: 'RS256' | 'ES256', privateKey: KeyObject, payload: Record<string, unknown>): string {
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`
  const signature = alg === 'RS256'
    ? sign('sha256', Buffer.from(input), privateKey)
    : sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

/** Claims of a valid token for `tenant` and `role`, valid for an hour from now. */
export function claims (tenant: string, role: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { sub: 'tester', tenant, role, iat: now, exp: now + 3600, ...extra }
}
