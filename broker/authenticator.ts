/**
 * Who may connect (design §3): agents with their license key, technicians with a JWT
 * (username `technician`), and printmq's own server with its service password.
 * Lookups are injected, so the broker knows nothing of the database or of JWT keys.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import type { AgentRef } from '../shared/ids.js'
import { agentMqttIdentity, parseLicenseKey } from '../shared/license.js'
import type { Principal } from './principal.js'

/** What a client presented in CONNECT. */
export interface Credentials {
  readonly username: string | undefined
  readonly password: Buffer | undefined
}

/** A verified agent and the printers assigned to it. */
export interface VerifiedAgent {
  readonly ref: AgentRef
  readonly printers: readonly string[]
}

/** A verified technician token. */
export interface VerifiedTechnician {
  readonly tenant: string
  readonly branches: readonly string[] | null
  readonly subject: string
  /** Token expiry, ms since the epoch: the session is closed then. */
  readonly expiresAt: number
}

/** Outcome of a login: a principal, or the CONNACK code and a reason for the log. */
export type AuthResult =
  | { readonly ok: true, readonly principal: Principal }
  | { readonly ok: false, readonly returnCode: 4 | 5, readonly reason: string }

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Password of the `printmq-service` user; `null` disables service logins. */
  readonly servicePassword: string | null
  /** Checks a license key against the database; `null` when unknown, wrong or revoked. */
  readonly verifyLicense: (key: string, ref: AgentRef) => Promise<VerifiedAgent | null>
  /** Checks a technician's JWT; `null` when invalid. Absent: technicians cannot log in. */
  readonly verifyTechnicianToken?: (token: string) => Promise<VerifiedTechnician | null>
}

/** Username of printmq's own server connections. */
export const SERVICE_USERNAME = 'printmq-service'
/** Username technicians log in with (the JWT is the password). */
export const TECHNICIAN_USERNAME = 'technician'

/** Verifies credentials. */
export type Authenticator = (credentials: Credentials) => Promise<AuthResult>

function sha256 (value: Buffer | string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** Build the authenticator the broker calls for every CONNECT. */
export function createAuthenticator (options: AuthenticatorOptions): Authenticator {
  const serviceDigest = options.servicePassword === null ? null : sha256(options.servicePassword)
  return async ({ username, password }) => {
    if (username === undefined || password === undefined || password.length === 0) {
      return { ok: false, returnCode: 4, reason: 'username and password required' }
    }
    if (username === SERVICE_USERNAME) {
      if (serviceDigest !== null && timingSafeEqual(sha256(password), serviceDigest)) {
        return { ok: true, principal: { kind: 'service' } }
      }
      return { ok: false, returnCode: 5, reason: 'bad service password' }
    }
    if (username === TECHNICIAN_USERNAME) {
      const verified = options.verifyTechnicianToken === undefined ? null : await options.verifyTechnicianToken(password.toString('utf8'))
      if (verified === null) return { ok: false, returnCode: 5, reason: 'technician token invalid' }
      return { ok: true, principal: { kind: 'technician', ...verified } }
    }
    const key = password.toString('utf8')
    const ref = parseLicenseKey(key)
    if (ref === null) return { ok: false, returnCode: 5, reason: 'password is not a license key' }
    if (username !== agentMqttIdentity(ref).username) return { ok: false, returnCode: 5, reason: 'username does not match the license' }
    const agent = await options.verifyLicense(key, ref)
    if (agent === null) return { ok: false, returnCode: 5, reason: 'license unknown, wrong or revoked' }
    return { ok: true, principal: { kind: 'agent', ref: agent.ref, printers: new Set(agent.printers) } }
  }
}
