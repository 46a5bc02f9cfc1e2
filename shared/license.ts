/**
 * Agent license keys (design §3). A key names its agent and carries 32 random bytes:
 *
 *   pmq1.{tenant}.{branch}.{agent}.{secret: 43 chars base64url}
 *
 * so the key alone identifies the agent; the agent derives its MQTT username and
 * client id from it. Ids never contain `.`, which makes the split unambiguous.
 * The server stores only SHA-256 of the whole key: the key has 256 bits of entropy,
 * so a slow KDF would add nothing but CPU cost in a reconnect storm.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { isValidId, type AgentRef } from './ids.js'

const PREFIX = 'pmq1'
const SECRET_BYTES = 32
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** The identity an agent logs in to MQTT with. */
export interface MqttIdentity {
  readonly username: string
  readonly clientId: string
}

/** Mint a new license key for an agent. */
export function createLicenseKey (ref: AgentRef): string {
  return `${PREFIX}.${ref.tenant}.${ref.branch}.${ref.agent}.${randomBytes(SECRET_BYTES).toString('base64url')}`
}

/** The agent a license key names, or `null` when the string is not a well-formed key. */
export function parseLicenseKey (key: unknown): AgentRef | null {
  if (typeof key !== 'string' || key.length > 256) return null
  const parts = key.split('.')
  if (parts.length !== 5 || parts[0] !== PREFIX) return null
  const [, tenant, branch, agent, secret] = parts as [string, string, string, string, string]
  if (!isValidId(tenant) || !isValidId(branch) || !isValidId(agent) || !SECRET_PATTERN.test(secret)) return null
  return { tenant, branch, agent }
}

/** SHA-256 of a license key, hex; what the database stores. */
export function hashLicenseKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** Constant-time comparison of a presented key against a stored hash. */
export function licenseMatches (key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashLicenseKey(key), 'hex')
  const stored = Buffer.from(storedHash, 'hex')
  return stored.length === presented.length && timingSafeEqual(presented, stored)
}

const AGENT_PREFIX = 'agent'

/**
 * MQTT username and client id of an agent: `agent.{tenant}.{branch}.{agent}` for both.
 * Unique across tenants; the broker lets only this agent's license use this client id.
 */
export function agentMqttIdentity (ref: AgentRef): MqttIdentity {
  const name = `${AGENT_PREFIX}.${ref.tenant}.${ref.branch}.${ref.agent}`
  return { username: name, clientId: name }
}

/** The agent an MQTT username or client id of the form `agent.{tenant}.{branch}.{agent}` names. */
export function parseAgentMqttName (name: unknown): AgentRef | null {
  if (typeof name !== 'string') return null
  const parts = name.split('.')
  if (parts.length !== 4 || parts[0] !== AGENT_PREFIX) return null
  const [, tenant, branch, agent] = parts as [string, string, string, string]
  if (!isValidId(tenant) || !isValidId(branch) || !isValidId(agent)) return null
  return { tenant, branch, agent }
}
