/**
 * When an agent's retained `config` is published. Always when the agent comes online
 * (its health says so), as before; and, with the embedded broker, already when a client
 * logs in with the agent's license for the first time since this server started.
 *
 * Why the second: the embedded broker keeps retained messages in memory, so a server
 * restart loses every agent's config until that agent comes online. A client that logs
 * in as the agent without announcing itself online (`printmq agent --check`) would find
 * no config and report a false failure. Publishing at the first login costs nothing
 * extra for a real agent: its `online` right after reuses that publish instead of
 * making another (and waits for it, so the config still goes out before the agent's
 * pending jobs).
 */
import type { AgentRef } from '../../shared/ids.js'
import { agentMqttIdentity } from '../../shared/license.js'
import type { Logger } from '../../shared/logger.js'

/** See the file comment. */
export class AgentConfigRefresher {
  readonly #publish: (ref: AgentRef) => Promise<void>
  readonly #log: Logger
  /** Agents whose config this server published since it started (by client id). */
  readonly #publishedSinceStart = new Set<string>()
  /** Publishes made at a login whose `online` has not come yet (by client id). */
  readonly #atLogin = new Map<string, Promise<void>>()

  constructor (publish: (ref: AgentRef) => Promise<void>, logger: Logger) {
    this.#publish = publish
    this.#log = logger
  }

  /** A client logged in with `ref`'s license on this server's broker. */
  agentLoggedIn (ref: AgentRef): void {
    const key = agentMqttIdentity(ref).clientId
    if (this.#publishedSinceStart.has(key)) return
    this.#publishedSinceStart.add(key)
    this.#atLogin.set(key, this.#publish(ref).catch((err: unknown) => {
      // The `online` that follows publishes it again.
      this.#publishedSinceStart.delete(key)
      this.#log.warn({ err, agent: ref.agent, branch: ref.branch, tenant: ref.tenant }, 'publishing an agent config at login failed')
    }))
  }

  /** The client logged in with `ref`'s license left. */
  agentLoggedOut (ref: AgentRef): void {
    this.#atLogin.delete(agentMqttIdentity(ref).clientId)
  }

  /** `ref` came online: its config is published (or was, at this login) once this resolves. */
  async agentOnline (ref: AgentRef): Promise<void> {
    const key = agentMqttIdentity(ref).clientId
    const atLogin = this.#atLogin.get(key)
    this.#atLogin.delete(key)
    this.#publishedSinceStart.add(key)
    if (atLogin !== undefined) {
      await atLogin
      if (this.#publishedSinceStart.has(key)) return
      this.#publishedSinceStart.add(key)
    }
    await this.#publish(ref)
  }
}
