/**
 * Refuses MQTT packets larger than a limit before anyone buffers them. The guard is
 * installed on a connection before `aedes.handle`: it reads each fixed header's Remaining
 * Length (a variable byte integer of at most four bytes, MQTT 3.1.1 §2.2.3) as the
 * bytes arrive, and destroys the connection as soon as a header announces more than
 * the limit, so the parser never allocates for the body. Bodies are counted, not copied.
 */
import type { Duplex } from 'node:stream'

/** Largest Remaining Length MQTT can encode (§2.2.3): 268,435,455 bytes. */
export const MQTT_MAX_REMAINING_LENGTH = 268_435_455

/** Why a connection was cut: the announced size, or a malformed length. */
export interface PacketSizeViolation {
  /** Fixed header plus announced remaining length, in bytes; `null` when the length was malformed. */
  readonly announcedBytes: number | null
  readonly limitBytes: number
}

/** Incremental reader of MQTT fixed headers; `feed` says how many bytes a header announced. */
export class FixedHeaderScanner {
  readonly #limit: number
  /** Bytes of the current body still to skip. */
  #skip = 0
  /** 'type': next byte is a packet type; 'length': inside the Remaining Length. */
  #state: 'type' | 'length' = 'type'
  #length = 0
  #multiplier = 1
  #lengthBytes = 0

  constructor (limitBytes: number) { this.#limit = limitBytes }

  /** Scan a chunk; returns a violation, or `null` when every header so far is within the limit. */
  feed (chunk: Buffer): PacketSizeViolation | null {
    let i = 0
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i)
        this.#skip -= n
        i += n
        continue
      }
      const byte = chunk[i++] as number
      if (this.#state === 'type') {
        this.#state = 'length'
        this.#length = 0
        this.#multiplier = 1
        this.#lengthBytes = 0
        continue
      }
      this.#length += (byte & 0x7f) * this.#multiplier
      this.#multiplier *= 128
      this.#lengthBytes++
      if ((byte & 0x80) !== 0) {
        // [MQTT-2.2.3] at most four length bytes.
        if (this.#lengthBytes === 4) return { announcedBytes: null, limitBytes: this.#limit }
        continue
      }
      const total = 1 + this.#lengthBytes + this.#length
      if (total > this.#limit) return { announcedBytes: total, limitBytes: this.#limit }
      this.#skip = this.#length
      this.#state = 'type'
    }
    return null
  }
}

/**
 * Guard `stream` in place so that bytes reach its reader only while every packet is
 * within `limitBytes`; on a violation `onViolation` is called and the stream is
 * destroyed. Returns the same stream.
 *
 * The check sits in the stream's own `push`, where the socket (net, TLS) or the
 * WebSocket adapter hands over each chunk read from the peer: it runs before the chunk
 * is buffered or seen by any reader, in paused or flowing mode. There is deliberately
 * no wrapper stream: a second Duplex in front of every connection cost a stream hop per
 * chunk each way and, worse, undid the corking of Aedes' writes (mqtt-packet writes a
 * PUBLISH as several small chunks under `cork()`; a wrapper without `_writev` passed
 * them to the socket one by one, one system call each). Profiled at 45% of the
 * broker's CPU in the routing benchmark (docs/performance.md).
 */
export function guardPacketSize<S extends Duplex> (stream: S, limitBytes: number, onViolation: (violation: PacketSizeViolation) => void): S {
  const scanner = new FixedHeaderScanner(limitBytes)
  const push = stream.push
  let violated = false
  stream.push = function guardedPush (this: S, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (violated) return false
    if (chunk !== null && chunk !== undefined) {
      const violation = scanner.feed(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk as Buffer)
      if (violation !== null) {
        violated = true
        onViolation(violation)
        this.destroy()
        return false
      }
    }
    return push.call(this, chunk, encoding)
  }
  return stream
}
