/**
 * Client id rules. MQTT 3.1.1 lets a broker restrict client ids [MQTT-3.1.3-5]; printmq
 * allows a safe character set and reserves the `agent.` and `printmq.` prefixes for the
 * identities they name, so no identity can take over another's session.
 */
import { agentMqttIdentity } from '../shared/license.js'
import type { Principal } from './principal.js'

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/
const RESERVED_PREFIXES = ['agent.', 'printmq.']
/** Names that are object-prototype keys in JavaScript: never a client id, whatever stores them. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'])

/** Client id prefix of printmq's own server connections. */
export const SERVICE_CLIENT_ID_PREFIX = 'printmq.'

/** Why `clientId` may not be used by `principal`, or `null` when it may. */
export function clientIdRefusal (principal: Principal, clientId: string, clean: boolean, assigned: boolean): string | null {
  // Technicians only read: they get no persistent session, so there is no stored
  // session state (subscriptions, queued messages) another login could take over.
  if (principal.kind === 'technician' && !clean) return 'technicians must use a clean session'
  if (assigned) {
    // The client sent an empty id; [MQTT-3.1.3-7] allows that only with a clean session.
    if (!clean) return 'empty client id needs a clean session'
    return principal.kind === 'technician' ? null : 'this identity must send its client id'
  }
  if (!CLIENT_ID.test(clientId)) return 'client id has characters outside [A-Za-z0-9._:-] or is longer than 128'
  if (RESERVED_NAMES.has(clientId)) return 'client id is a reserved name'
  switch (principal.kind) {
    case 'agent':
      return clientId === agentMqttIdentity(principal.ref).clientId ? null : 'an agent must use the client id its license names'
    case 'service':
      return clientId.startsWith(SERVICE_CLIENT_ID_PREFIX) ? null : 'service client ids start with printmq.'
    case 'technician':
      return RESERVED_PREFIXES.some((p) => clientId.startsWith(p)) ? 'client id prefix is reserved' : null
  }
}
