/**
 * Deleting a client's persistent session from Aedes' persistence (license revoked or
 * rotated): subscriptions, queued outgoing messages, inbound QoS 2 state and the Will,
 * everything a clean-session CONNECT would discard [MQTT-3.1.2-6].
 */
import type { Aedes } from 'aedes'

/** Delete everything Aedes persists for `clientId`. */
export async function clearSession (aedes: Aedes, clientId: string): Promise<void> {
  const persistence = (aedes as unknown as { persistence: SessionStore }).persistence
  const session = { id: clientId }
  await persistence.cleanSubscriptions(session)
  for await (const packet of persistence.outgoingStream(session)) {
    await persistence.outgoingClearMessageId(session, packet as { messageId?: number })
  }
  await persistence.cleanIncoming?.(session)
  await persistence.delWill(session)
}

/** The parts of aedes-persistence's (untyped) interface that hold a client's session. */
interface SessionStore {
  cleanSubscriptions (client: { id: string }): Promise<void>
  outgoingStream (client: { id: string }): AsyncIterable<unknown>
  outgoingClearMessageId (client: { id: string }, packet: { messageId?: number }): Promise<unknown>
  cleanIncoming?: (client: { id: string }) => Promise<void>
  delWill (client: { id: string }): Promise<unknown>
}
