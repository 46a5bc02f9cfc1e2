/**
 * Topic access control (design §3), deny by default. Pure functions: the aedes hooks
 * in broker.ts only adapt their callbacks to these decisions.
 */
import { decodeMessage, InvalidMessageError } from '../shared/messages.js'
import {
  agentTopic, branchLevels, filterWithin, isWellFormedFilter, parseTopic, tenantLevels
} from '../shared/topics.js'
import type { Principal } from './principal.js'

/** Outcome of an access decision; `reason` goes to the log. */
export type Decision = { readonly allow: true } | { readonly allow: false, readonly reason: string }

const ALLOW: Decision = Object.freeze({ allow: true })
function deny (reason: string): Decision { return { allow: false, reason } }

/** Topic filters longer than this many levels are refused outright. */
export const MAX_FILTER_LEVELS = 16

/**
 * The QoS an agent must subscribe with. A broker may grant less than asked but never
 * more [MQTT-3.9.3], so a QoS 0 request cannot be raised: it is refused instead, since
 * jobs at QoS 0 could be lost.
 */
export const AGENT_SUBSCRIPTION_QOS = 1

/** May `principal` subscribe to `filter` at `qos`? */
export function authorizeSubscribe (principal: Principal, filter: string, qos: number = AGENT_SUBSCRIPTION_QOS): Decision {
  if (!isWellFormedFilter(filter)) return deny('malformed topic filter')
  if (filter.split('/').length > MAX_FILTER_LEVELS) return deny('too many topic levels')
  // $SYS (broker internals, the client-kick topic) and $share are for nobody but the service.
  if (filter.startsWith('$')) return principal.kind === 'service' ? ALLOW : deny('$ topics are reserved')
  switch (principal.kind) {
    case 'service':
      return ALLOW
    case 'agent':
      // Exact filters only: a wildcard could overlap the jobs subscription and let the
      // broker deliver jobs at the lower QoS of the other filter.
      if (filter !== agentTopic(principal.ref, 'jobs') && filter !== agentTopic(principal.ref, 'config') &&
        filter !== agentTopic(principal.ref, 'discovery')) {
        return deny('agents may subscribe only to their own jobs, config and discovery topics')
      }
      return qos === AGENT_SUBSCRIPTION_QOS ? ALLOW : deny('agents subscribe at QoS 1')
    case 'technician': {
      if (principal.branches === null) {
        return filterWithin(filter, tenantLevels(principal.tenant)) ? ALLOW : deny('outside the technician\'s tenant')
      }
      for (const branch of principal.branches) {
        if (filterWithin(filter, branchLevels(principal.tenant, branch))) return ALLOW
      }
      return deny('outside the technician\'s branches')
    }
  }
}

/** What the ACL needs to know about a PUBLISH. */
export interface PublishRequest {
  readonly topic: string
  readonly payload: Buffer
  readonly retain: boolean
  readonly qos: number
}

/** May `principal` publish this message? Agents' payloads must also be valid messages of the topic's kind. */
export function authorizePublish (principal: Principal, request: PublishRequest): Decision {
  if (request.topic.startsWith('$')) return deny('$ topics are reserved')
  if (principal.kind === 'service') return ALLOW
  if (principal.kind === 'technician') return deny('technicians are read-only')

  const { ref } = principal
  const parsed = parseTopic(request.topic)
  if (parsed === null) return deny('not a printmq topic')
  if (parsed.ref.tenant !== ref.tenant || parsed.ref.branch !== ref.branch) return deny('another tenant or branch')
  if (request.payload.length === 0) return deny('empty payloads (retained deletes) are refused')

  if (parsed.kind === 'printer-status') {
    if (!principal.printers.has(parsed.ref.printer)) return deny('printer not assigned to this agent')
    if (!request.retain) return deny('printer status must be retained')
    return checkPayload('printer-status', request.payload, (m) => m.printerId === parsed.ref.printer)
  }
  if (parsed.ref.agent !== ref.agent) return deny('another agent\'s topic')
  switch (parsed.channel) {
    case 'results':
      if (request.retain) return deny('results are not retained')
      return checkPayload('job-result', request.payload, () => true)
    case 'health':
      if (!request.retain) return deny('health must be retained')
      return checkPayload('agent-health', request.payload, () => true)
    case 'discovered':
      if (request.retain) return deny('discovery reports are not retained')
      return checkPayload('discovery-report', request.payload, () => true)
    default:
      return deny(`agents may not publish to ${parsed.channel}`)
  }
}

/** Is a Will message acceptable for this principal? Only an agent's own health topic, retained. */
export function authorizeWill (principal: Principal, will: PublishRequest | undefined): Decision {
  if (will === undefined || will === null) return ALLOW
  if (principal.kind === 'service') return ALLOW
  if (principal.kind === 'technician') return deny('technicians may not set a Will')
  if (will.topic !== agentTopic(principal.ref, 'health')) return deny('the Will must be the agent\'s own health topic')
  return authorizePublish(principal, will)
}

function checkPayload<K extends 'printer-status' | 'job-result' | 'agent-health' | 'discovery-report'> (
  kind: K, payload: Buffer, matches: (message: ReturnType<typeof decodeMessage<K>>) => boolean
): Decision {
  try {
    const message = decodeMessage(kind, payload)
    return matches(message) ? ALLOW : deny(`${kind} names another entity than its topic`)
  } catch (err) {
    if (err instanceof InvalidMessageError) return deny(err.message)
    throw err
  }
}
