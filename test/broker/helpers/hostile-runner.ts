/**
 * Tries one hostile case against a broker as one actor, over a raw socket, and reports
 * whether it was refused: CONNACK refusal, SUBACK 0x80 with nothing delivered, or the
 * publish dropped and the connection closed; and in every case nothing reached the
 * watcher that the attempt tried to publish.
 */
import { encode, RawClient, rawConnack, type RawConnect } from './raw-client.js'
import type { HostileCase } from './hostile-cases.js'

/** The CONNECT fields an actor logs in with (client id and clean flag included). */
export type Login = Omit<RawConnect, 'will'>

/** What the runner needs from the world. */
export interface RunnerContext {
  readonly port: number
  readonly seen: ReadonlyArray<{ topic: string, payload: Buffer }>
  settle (): Promise<void>
  /** Topics the actor may legitimately read (a granted wildcard then delivers them); default none. */
  readonly mayReceive?: (topic: string) => boolean
}

/** Longest wait for the broker to close a connection it must close, in ms (a hang guard, not a timing assertion). */
const CLOSE_GUARD_MS = 5000

async function closedWithin (client: RawClient): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, CLOSE_GUARD_MS) })
  const closed = client.closed.then(() => true)
  const outcome = await Promise.race([closed, guard])
  clearTimeout(timer)
  return outcome
}

/**
 * How strict the refusal must look. `printmq`: SUBACK 0x80, the publisher disconnected,
 * a bad Will refused at CONNECT. `mosquitto`: Mosquitto may grant a subscription and
 * filter every message at delivery, and drops a denied publish (or Will) without closing
 * the connection; what must hold is that nothing is delivered or routed.
 */
export type RefusalMode = 'printmq' | 'mosquitto'

/** `'refused'`, or what went wrong. `authenticated` is false for a login that must fail. */
export async function tryCase (ctx: RunnerContext, c: HostileCase, login: Login, authenticated: boolean, mode: RefusalMode = 'printmq'): Promise<string> {
  const client = await RawClient.open(ctx.port)
  try {
    switch (c.kind) {
      case 'client-id': {
        const code = await rawConnack(client, { ...login, clientId: c.clientId, clean: c.clean })
        return code === 0 ? 'CONNACK accepted' : 'refused'
      }
      case 'will': {
        const code = await rawConnack(client, { ...login, will: { topic: c.topic, payload: c.payload, qos: c.qos, retain: c.retain } })
        if (code === 0 && mode === 'printmq') return 'CONNACK accepted'
        // Dropping the socket without DISCONNECT is what makes a broker publish the Will.
        if (code === 0) client.destroy()
        await client.closed
        await ctx.settle()
        return seenPayload(ctx, c.topic, c.payload) ? 'the Will was published' : 'refused'
      }
      case 'subscribe': {
        const subscribe = encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: c.filter, qos: c.qos }] })
        const code = await rawConnack(client, login, authenticated ? [] : [subscribe])
        if (!authenticated) {
          if (code === 0) return 'CONNACK accepted'
          await client.closed
          return client.received.some((p) => p.cmd === 'suback' || p.cmd === 'publish') ? 'answered a SUBSCRIBE after a refused CONNECT' : 'refused'
        }
        if (code !== 0) return `legitimate login refused with ${String(code)}`
        client.send(subscribe)
        const suback = await client.next('suback')
        if (suback !== null) {
          const granted = (suback as { granted: number[] }).granted
          if (granted[0] !== 128 && mode === 'printmq') return `SUBACK granted ${String(granted[0])}`
          // Anything retained would have been sent before the PINGRESP.
          await client.barrier()
        }
        const leaked = client.received.find((p) => p.cmd === 'publish' && ctx.mayReceive?.(p.topic) !== true)
        return leaked === undefined ? 'refused' : `a message was delivered on ${(leaked as { topic: string }).topic}`
      }
      case 'publish': {
        const publish = encode({ cmd: 'publish', topic: c.topic, payload: c.payload, qos: c.qos, retain: c.retain, dup: false, ...(c.qos > 0 ? { messageId: 2 } : {}) })
        const code = await rawConnack(client, login, authenticated ? [] : [publish])
        if (!authenticated && code === 0) return 'CONNACK accepted'
        if (authenticated) {
          if (code !== 0) return `legitimate login refused with ${String(code)}`
          client.send(publish)
        }
        if (mode === 'mosquitto') {
          await client.barrier()
        } else {
          if (!await closedWithin(client)) return 'connection left open after a refused publish'
          if (client.received.some((p) => p.cmd === 'puback')) return 'the publish was acknowledged'
        }
        await ctx.settle()
        return seenPayload(ctx, c.topic, c.payload) ? 'the message was routed' : 'refused'
      }
    }
  } finally {
    client.destroy()
  }
}

function seenPayload (ctx: RunnerContext, topic: string, payload: Buffer): boolean {
  return ctx.seen.some((m) => m.topic === topic && m.payload.equals(payload))
}
