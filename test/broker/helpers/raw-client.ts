/**
 * A raw MQTT 3.1.1 client over a TCP socket, for what well-behaved clients refuse to
 * send: malformed client ids, bad topic filters, packets pipelined behind a CONNECT.
 * Packets are encoded with mqtt-packet, except CONNECT, which is built byte by byte so
 * any client id bytes can be sent.
 */
import { connect, type Socket } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'

/** Fields of a hand-built CONNECT. */
export interface RawConnect {
  readonly clientId: Buffer | string
  readonly clean: boolean
  readonly username?: string
  readonly password?: string
  readonly keepalive?: number
  readonly will?: { readonly topic: string, readonly payload: Buffer, readonly qos: 0 | 1, readonly retain: boolean }
}

function field (value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  const length = Buffer.alloc(2)
  length.writeUInt16BE(bytes.length)
  return Buffer.concat([length, bytes])
}

function remainingLength (n: number): Buffer {
  const bytes: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    bytes.push(byte)
  } while (n > 0)
  return Buffer.from(bytes)
}

/** A CONNECT packet (MQTT 3.1.1 §3.1) with exactly the bytes given. */
export function encodeConnect (c: RawConnect): Buffer {
  let flags = c.clean ? 0x02 : 0
  if (c.will !== undefined) flags |= 0x04 | (c.will.qos << 3) | (c.will.retain ? 0x20 : 0)
  if (c.username !== undefined) flags |= 0x80
  if (c.password !== undefined) flags |= 0x40
  const keepalive = Buffer.alloc(2)
  keepalive.writeUInt16BE(c.keepalive ?? 60)
  const body = Buffer.concat([
    field('MQTT'), Buffer.from([4, flags]), keepalive,
    field(c.clientId),
    ...(c.will !== undefined ? [field(c.will.topic), field(c.will.payload)] : []),
    ...(c.username !== undefined ? [field(c.username)] : []),
    ...(c.password !== undefined ? [field(c.password)] : [])
  ])
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body])
}

/** Any other packet, encoded by mqtt-packet. */
export function encode (packet: Packet): Buffer {
  return mqttPacket.generate(packet)
}

/** A socket that parses what the broker sends. */
export class RawClient {
  readonly socket: Socket
  readonly received: Packet[] = []
  readonly #waiters: Array<() => void> = []
  #closed = false
  readonly closed: Promise<void>

  private constructor (socket: Socket) {
    this.socket = socket
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (packet: Packet) => { this.received.push(packet); this.#wake() })
    parser.on('error', () => { socket.destroy() })
    socket.on('data', (chunk) => { parser.parse(chunk) })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => {
      socket.on('close', () => { this.#closed = true; this.#wake(); resolve() })
    })
  }

  /** Open a socket to the broker. */
  static async open (port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawClient(socket)
  }

  get isClosed (): boolean { return this.#closed }

  send (bytes: Buffer): void { if (!this.#closed) this.socket.write(bytes) }

  /** Resolves with the first received packet matching `cmd`, or null once the socket closed without one. */
  async next (cmd: Packet['cmd']): Promise<Packet | null> {
    for (;;) {
      const found = this.received.find((p) => p.cmd === cmd)
      if (found !== undefined) return found
      if (this.#closed) return null
      await new Promise<void>((resolve) => { this.#waiters.push(resolve) })
    }
  }

  /** Send PINGREQ and wait for PINGRESP: everything the broker sent before it has arrived. False when closed instead. */
  async barrier (): Promise<boolean> {
    const before = this.received.filter((p) => p.cmd === 'pingresp').length
    this.send(encode({ cmd: 'pingreq' }))
    for (;;) {
      if (this.received.filter((p) => p.cmd === 'pingresp').length > before) return true
      if (this.#closed) return false
      await new Promise<void>((resolve) => { this.#waiters.push(resolve) })
    }
  }

  destroy (): void { this.socket.destroy() }

  #wake (): void {
    for (const waiter of this.#waiters.splice(0)) waiter()
  }
}

/** The CONNACK code of a raw CONNECT (and what followed), or null when the broker closed without one. */
export async function rawConnack (client: RawClient, connect: RawConnect, after: Buffer[] = []): Promise<number | null> {
  client.send(Buffer.concat([encodeConnect(connect), ...after]))
  const connack = await client.next('connack')
  return connack === null ? null : (connack as { returnCode?: number }).returnCode ?? 0
}
