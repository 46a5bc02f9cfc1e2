/**
 * Which agents are online, from their retained health messages. A health message
 * carries the session id of the connection that sent it; an `online: false` (Last
 * Will) of an older session does not mark a newer live session offline.
 */
import type { AgentRef } from '../../shared/ids.js'
import type { AgentHealthMessage } from '../../shared/messages.js'

interface Presence { sessionId: string, online: boolean, lastSeen: Date, health: AgentHealthMessage }

/** What changed with a health message. */
export type PresenceChange = 'came-online' | 'went-offline' | 'stale' | 'unchanged'

/** A health message that was applied, for listeners. */
export interface PresenceUpdate {
  readonly ref: AgentRef
  readonly online: boolean
  readonly lastSeen: Date
  readonly health: AgentHealthMessage
}

/** In-memory view of agent presence. */
export class AgentPresence {
  readonly #agents = new Map<string, Presence>()
  readonly #listeners = new Set<(update: PresenceUpdate) => void>()

  /** Record a health message; tells whether this is a new online session. */
  update (ref: AgentRef, health: AgentHealthMessage): PresenceChange {
    const change = this.#apply(ref, health)
    if (change !== 'stale') {
      const current = this.#agents.get(key(ref)) as Presence
      for (const listener of this.#listeners) listener({ ref, online: current.online, lastSeen: current.lastSeen, health })
    }
    return change
  }

  #apply (ref: AgentRef, health: AgentHealthMessage): PresenceChange {
    const k = key(ref)
    const known = this.#agents.get(k)
    if (!health.online) {
      if (known !== undefined && known.sessionId !== health.sessionId && known.online) return 'stale'
      this.#agents.set(k, { sessionId: health.sessionId, online: false, lastSeen: new Date(), health })
      return known?.online === true ? 'went-offline' : 'unchanged'
    }
    this.#agents.set(k, { sessionId: health.sessionId, online: true, lastSeen: new Date(), health })
    return known?.online === true && known.sessionId === health.sessionId ? 'unchanged' : 'came-online'
  }

  /** True when the agent's latest health said online. */
  isOnline (ref: AgentRef): boolean {
    return this.#agents.get(key(ref))?.online === true
  }

  /** Latest health of an agent, if any was seen. */
  get (ref: AgentRef): { online: boolean, lastSeen: Date, health: AgentHealthMessage } | undefined {
    return this.#agents.get(key(ref))
  }

  /** How many agents' latest health says online (this server's view). */
  onlineCount (): number {
    let n = 0
    for (const presence of this.#agents.values()) if (presence.online) n++
    return n
  }

  /** Listen to every applied health message; returns the function that stops listening. */
  onChange (listener: (update: PresenceUpdate) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}

function key (ref: AgentRef): string { return `${ref.tenant}/${ref.branch}/${ref.agent}` }
