/**
 * The MQTT topic tree (design §4). This is the only module that builds or parses
 * topic strings; every other file calls these functions.
 *
 *   printmq/v1/{tenant}/{branch}/agents/{agent}/jobs      server -> agent   QoS 1
 *   printmq/v1/{tenant}/{branch}/agents/{agent}/results   agent -> server   QoS 1
 *   printmq/v1/{tenant}/{branch}/agents/{agent}/config    server -> agent   QoS 1 retained
 *   printmq/v1/{tenant}/{branch}/agents/{agent}/health    agent -> all      QoS 1 retained (+ Last Will)
 *   printmq/v1/{tenant}/{branch}/agents/{agent}/discovery server -> agent  QoS 1 (printer discovery request)
 *   printmq/v1/{tenant}/{branch}/agents/{agent}/discovered agent -> server QoS 1 (printer discovery report)
 *   printmq/v1/{tenant}/{branch}/printers/{printer}/status agent -> all     QoS 1 retained
 */
import { isValidId, type AgentRef, type PrinterRef } from './ids.js'

/** First two levels of every printmq topic. */
export const TOPIC_ROOT = 'printmq/v1'

/** The per-agent channels. */
export const AGENT_CHANNELS = ['jobs', 'results', 'config', 'health', 'discovery', 'discovered'] as const
/** One of the per-agent channels. */
export type AgentChannel = typeof AGENT_CHANNELS[number]

/** A topic understood by printmq, parsed. */
export type ParsedTopic =
  | { readonly kind: 'agent', readonly channel: AgentChannel, readonly ref: AgentRef }
  | { readonly kind: 'printer-status', readonly ref: PrinterRef }

function check (...ids: string[]): void {
  for (const id of ids) {
    if (!isValidId(id)) throw new TypeError(`invalid id in topic: ${JSON.stringify(id)}`)
  }
}

/** Topic of one agent channel, e.g. `printmq/v1/acme/b1/agents/a1/jobs`. */
export function agentTopic (ref: AgentRef, channel: AgentChannel): string {
  check(ref.tenant, ref.branch, ref.agent)
  return `${TOPIC_ROOT}/${ref.tenant}/${ref.branch}/agents/${ref.agent}/${channel}`
}

/** Retained status topic of one printer. */
export function printerStatusTopic (ref: PrinterRef): string {
  check(ref.tenant, ref.branch, ref.printer)
  return `${TOPIC_ROOT}/${ref.tenant}/${ref.branch}/printers/${ref.printer}/status`
}

/** Filter matching everything of one tenant (technicians). */
export function tenantFilter (tenant: string): string {
  check(tenant)
  return `${TOPIC_ROOT}/${tenant}/#`
}

/** Filter matching everything of one branch (technicians limited to branches). */
export function branchFilter (tenant: string, branch: string): string {
  check(tenant, branch)
  return `${TOPIC_ROOT}/${tenant}/${branch}/#`
}

/** Filters the server subscribes to: every agent's results, health and discovery reports, every printer's status. */
export const SERVER_SUBSCRIPTIONS: readonly string[] = Object.freeze([
  `${TOPIC_ROOT}/+/+/agents/+/results`,
  `${TOPIC_ROOT}/+/+/agents/+/health`,
  `${TOPIC_ROOT}/+/+/agents/+/discovered`,
  `${TOPIC_ROOT}/+/+/printers/+/status`
])

/** Parse a concrete (wildcard-free) topic; `null` when it is not a printmq topic. */
export function parseTopic (topic: string): ParsedTopic | null {
  const levels = topic.split('/')
  if (levels.length !== 7 || `${levels[0]}/${levels[1]}` !== TOPIC_ROOT) return null
  const [, , tenant, branch, collection, id, leaf] = levels as [string, string, string, string, string, string, string]
  if (!isValidId(tenant) || !isValidId(branch) || !isValidId(id)) return null
  if (collection === 'agents' && (AGENT_CHANNELS as readonly string[]).includes(leaf)) {
    return { kind: 'agent', channel: leaf as AgentChannel, ref: { tenant, branch, agent: id } }
  }
  if (collection === 'printers' && leaf === 'status') {
    return { kind: 'printer-status', ref: { tenant, branch, printer: id } }
  }
  return null
}

/**
 * True when an MQTT topic filter lies entirely inside `prefix/#`, i.e. every topic it
 * can match starts with the prefix's levels. Wildcards are allowed only after the prefix.
 * [MQTT-4.7.1-2] `#` must be last and alone in its level; [MQTT-4.7.1-3] `+` alone in its level.
 */
export function filterWithin (filter: string, prefixLevels: readonly string[]): boolean {
  if (!isWellFormedFilter(filter)) return false
  const levels = filter.split('/')
  if (levels.length < prefixLevels.length) return false
  for (let i = 0; i < prefixLevels.length; i++) {
    if (levels[i] !== prefixLevels[i]) {
      // `a/b/#` also matches the parent `a/b` itself, but that is no topic of ours.
      return false
    }
  }
  return true
}

/** Levels of the tenant root, for {@link filterWithin}. */
export function tenantLevels (tenant: string): readonly string[] {
  check(tenant)
  return [...TOPIC_ROOT.split('/'), tenant]
}

/** Levels of a branch root, for {@link filterWithin}. */
export function branchLevels (tenant: string, branch: string): readonly string[] {
  check(tenant, branch)
  return [...TOPIC_ROOT.split('/'), tenant, branch]
}

/** Syntactic check of an MQTT 3.1.1 topic filter (§4.7). */
export function isWellFormedFilter (filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false
    if (level.includes('+') && level !== '+') return false
  }
  return true
}
