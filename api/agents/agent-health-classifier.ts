/**
 * How `GET /v1/branches/{id}/health` classifies an agent and a printer. Agents publish
 * health every 15 s (agent/health-reporter.ts) and a Last Will when their connection
 * dies; the rules below are documented in the README.
 */
import type { PrinterState } from '../../shared/messages.js'
import type { AgentPresence } from './agent-presence.js'
import type { PrinterStatusEntry } from './printer-status-store.js'

/** The agent's health cadence in milliseconds (agent default). */
export const HEALTH_INTERVAL_MS = 15_000
/** Online but silent for longer than this (two missed beats): degraded. */
export const DEGRADED_AFTER_MS = 2 * HEALTH_INTERVAL_MS
/** Silent for longer than this (three missed beats): offline, even without a Last Will yet. */
export const OFFLINE_AFTER_MS = 3 * HEALTH_INTERVAL_MS
/**
 * Round-trip time to the broker at or above which an online agent is degraded.
 * `lastError` is shown but does not degrade: the agent keeps it after recovering.
 */
export const DEGRADED_RTT_MS = 1000

/** An agent's classification. */
export type AgentState = 'online' | 'degraded' | 'offline'

/** What the health endpoint says about one agent. */
export interface AgentHealth {
  readonly state: AgentState
  /** Why it is degraded or offline; empty when online. */
  readonly reasons: string[]
  readonly lastSeen: string | null
  readonly rttMs: number | null
  readonly reconnects: number | null
  readonly version: string | null
  readonly uptimeSeconds: number | null
  readonly lastError: string | null
}

/** Classify an agent from its latest health (or its absence) at `now`. */
export function classifyAgent (presence: ReturnType<AgentPresence['get']>, now: number): AgentHealth {
  if (presence === undefined) {
    return { state: 'offline', reasons: ['no health message received'], lastSeen: null, rttMs: null, reconnects: null, version: null, uptimeSeconds: null, lastError: null }
  }
  const { health } = presence
  const silentMs = now - presence.lastSeen.getTime()
  const reasons: string[] = []
  let state: AgentState = 'online'
  if (!presence.online) {
    state = 'offline'
    reasons.push('agent reported offline (Last Will or clean disconnect)')
  } else if (silentMs > OFFLINE_AFTER_MS) {
    state = 'offline'
    reasons.push(`no health message for ${Math.round(silentMs / 1000)} s`)
  } else {
    if (silentMs > DEGRADED_AFTER_MS) reasons.push(`no health message for ${Math.round(silentMs / 1000)} s`)
    if (health.rttMs !== undefined && health.rttMs >= DEGRADED_RTT_MS) reasons.push(`round-trip time ${Math.round(health.rttMs)} ms`)
    if (reasons.length > 0) state = 'degraded'
  }
  return {
    state,
    reasons,
    lastSeen: presence.lastSeen.toISOString(),
    rttMs: health.rttMs ?? null,
    reconnects: health.reconnects ?? null,
    version: health.version ?? null,
    uptimeSeconds: health.uptimeSeconds ?? null,
    lastError: health.lastError ?? null
  }
}

/**
 * A printer's state: what its agent last reported, `offline` when the agent itself is
 * offline (its last report cannot be trusted), `unknown` when nothing was reported.
 */
export function classifyPrinter (agentState: AgentState, status: PrinterStatusEntry | undefined): { state: PrinterState, detail: string | null, since: string | null } {
  if (agentState === 'offline') return { state: 'offline', detail: 'agent offline', since: status?.receivedAt.toISOString() ?? null }
  if (status === undefined) return { state: 'unknown', detail: null, since: null }
  return { state: status.status.state, detail: status.status.detail ?? null, since: status.receivedAt.toISOString() }
}
