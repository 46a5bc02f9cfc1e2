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

/** In-memory view of agent presence. */
export class AgentPresence {
  readonly #agents = new Map<string, Presence>()

  /** Record a health message; tells whether this is a new online session. */
  update (ref: AgentRef, health: AgentHealthMessage): PresenceChange {
    const key = `${ref.tenant}/${ref.branch}/${ref.agent}`
    const known = this.#agents.get(key)
    if (!health.online) {
      if (known !== undefined && known.sessionId !== health.sessionId && known.online) return 'stale'
      this.#agents.set(key, { sessionId: health.sessionId, online: false, lastSeen: new Date(), health })
      return known?.online === true ? 'went-offline' : 'unchanged'
    }
    this.#agents.set(key, { sessionId: health.sessionId, online: true, lastSeen: new Date(), health })
    return known?.online === true && known.sessionId === health.sessionId ? 'unchanged' : 'came-online'
  }

  /** True when the agent's latest health said online. */
  isOnline (ref: AgentRef): boolean {
    return this.#agents.get(`${ref.tenant}/${ref.branch}/${ref.agent}`)?.online === true
  }

  /** Latest health of an agent, if any was seen. */
  get (ref: AgentRef): { online: boolean, lastSeen: Date, health: AgentHealthMessage } | undefined {
    return this.#agents.get(`${ref.tenant}/${ref.branch}/${ref.agent}`)
  }
}
