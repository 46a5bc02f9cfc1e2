/** Who is on the other end of an MQTT connection, once authenticated. */
import type { AgentRef } from '../shared/ids.js'

/** printmq's own server process (publishes jobs and config, reads everything). */
export interface ServicePrincipal {
  readonly kind: 'service'
}

/** A branch agent, identified by its license. */
export interface AgentPrincipal {
  readonly kind: 'agent'
  readonly ref: AgentRef
  /** Printers assigned to this agent; it may publish their status. Updated with its config. */
  printers: ReadonlySet<string>
}

/** A technician logged in with a JWT: read-only within a tenant (and optionally some branches). */
export interface TechnicianPrincipal {
  readonly kind: 'technician'
  readonly tenant: string
  /** `null` means every branch of the tenant. */
  readonly branches: readonly string[] | null
  readonly subject: string
  /** When the JWT expires (ms since the epoch); the broker closes the connection then. */
  readonly expiresAt: number
}

/** Any authenticated MQTT client. */
export type Principal = ServicePrincipal | AgentPrincipal | TechnicianPrincipal
