/**
 * Mosquitto's password and ACL files for printmq's topic tree (README "Running with
 * Mosquitto"). Pure functions: the `printmq mosquitto-files` command feeds them from
 * the database and writes the files.
 *
 * Mosquitto 2.0 password lines are `user:$7$iterations$salt$hash` with PBKDF2-HMAC-SHA512,
 * a 12-byte salt and a 64-byte hash, both base64 (what `mosquitto_passwd` writes).
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import type { AgentRef } from '../shared/ids.js'
import { agentMqttIdentity } from '../shared/license.js'
import { agentTopic, branchFilter, printerStatusTopic, tenantFilter } from '../shared/topics.js'

/** Iterations mosquitto_passwd 2.0 uses. */
export const MOSQUITTO_PBKDF2_ITERATIONS = 101

/** One line of a Mosquitto password file. */
export function mosquittoPasswordLine (username: string, password: string, salt: Buffer = randomBytes(12), iterations = MOSQUITTO_PBKDF2_ITERATIONS): string {
  if (/[:\s]/.test(username)) throw new TypeError(`a Mosquitto user name cannot contain ':' or white space: ${JSON.stringify(username)}`)
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512')
  return `${username}:$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/** An agent and the printers assigned to it. */
export interface AclAgent { readonly ref: AgentRef, readonly printers: readonly string[] }
/** A read-only technician account. */
export interface AclTechnician { readonly username: string, readonly tenant: string, readonly branches: readonly string[] | null }

/**
 * The ACL file: deny by default (a user without a line may do nothing), the server's
 * account reads and writes the printmq tree, each agent reads its own jobs, config and
 * discovery requests and writes its own results, health, discovery reports and its
 * printers' status, each technician reads its tenant or branches. Nobody gets `$SYS`.
 */
export function mosquittoAclFile (entries: { readonly serviceUsername: string, readonly agents: readonly AclAgent[], readonly technicians: readonly AclTechnician[] }): string {
  const lines = [
    '# Written by `printmq mosquitto-files`; do not edit (rerun the command instead).',
    '# Deny by default: only the lines below grant anything.',
    '',
    `user ${entries.serviceUsername}`,
    'topic readwrite printmq/v1/#',
    ''
  ]
  for (const agent of entries.agents) {
    lines.push(
      `user ${agentMqttIdentity(agent.ref).username}`,
      `topic read ${agentTopic(agent.ref, 'jobs')}`,
      `topic read ${agentTopic(agent.ref, 'config')}`,
      `topic read ${agentTopic(agent.ref, 'discovery')}`,
      `topic write ${agentTopic(agent.ref, 'results')}`,
      `topic write ${agentTopic(agent.ref, 'health')}`,
      `topic write ${agentTopic(agent.ref, 'discovered')}`,
      ...agent.printers.map((printer) => `topic write ${printerStatusTopic({ ...agent.ref, printer })}`),
      ''
    )
  }
  for (const technician of entries.technicians) {
    lines.push(`user ${technician.username}`)
    if (technician.branches === null) lines.push(`topic read ${tenantFilter(technician.tenant)}`)
    else for (const branch of technician.branches) lines.push(`topic read ${branchFilter(technician.tenant, branch)}`)
    lines.push('')
  }
  return lines.join('\n')
}
