/**
 * Deleting a client's persistent session from Aedes' persistence (license revoked or
 * rotated): subscriptions, queued outgoing messages, inbound QoS 2 state and the Will,
 * everything a clean-session CONNECT would discard [MQTT-3.1.2-6].
 */
import type { Aedes } from 'aedes'

/**
 * Delete everything Aedes persists for `clientId`. A Will is stored per broker
 * (aedes-persistence-redis keys it by broker id): `brokerId` names this broker's.
 */
export async function clearSession (aedes: Aedes, clientId: string, brokerId?: string): Promise<void> {
  const persistence = (aedes as unknown as { persistence: SessionStore }).persistence
  const session = { id: clientId, brokerId }
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
  delWill (client: { id: string, brokerId?: string }): Promise<unknown>
}
