/**
 * Routes an incoming publish to the handler of its channel. The agent subscribes only
 * to its own `jobs`, `config` and `discovery`; anything else (a misconfigured broker) is
 * logged and acknowledged, since no redelivery would make it ours.
 */
import type { IPublishPacket } from 'mqtt'
import type { AgentRef } from '../shared/ids.js'
import type { Logger } from '../shared/logger.js'
import { parseTopic, type AgentChannel } from '../shared/topics.js'

/** Handles one message's payload. */
export type InboundHandler = (payload: Buffer) => Promise<void>

/** Build the dispatcher over the handlers of each inbound channel. */
export function createInboundRouter (
  self: AgentRef,
  handlers: Partial<Record<AgentChannel, InboundHandler>>,
  logger: Logger
): (packet: IPublishPacket) => Promise<void> {
  return async (packet) => {
    const topic = parseTopic(packet.topic)
    const mine = topic?.kind === 'agent' &&
      topic.ref.tenant === self.tenant && topic.ref.branch === self.branch && topic.ref.agent === self.agent
    const handler = mine ? handlers[topic.channel] : undefined
    if (handler === undefined) {
      logger.warn({ topic: packet.topic }, 'message on unexpected topic')
      return
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload)
    await handler(payload)
  }
}
