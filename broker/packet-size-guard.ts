/**
 * Refuses MQTT packets larger than a limit before anyone buffers them. The guard sits
 * between a connection and `aedes.handle`: it reads each fixed header's Remaining
 * Length (a variable byte integer of at most four bytes, MQTT 3.1.1 §2.2.3) as the
 * bytes arrive, and destroys the connection as soon as a header announces more than
 * the limit, so the parser never allocates for the body. Bodies are counted, not copied.
 */
import { Duplex } from 'node:stream'

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
 * Wrap `inner` so that bytes reach the reader only while every packet is within
 * `limitBytes`; on a violation `onViolation` is called and both streams are destroyed.
 */
export function guardPacketSize (inner: Duplex, limitBytes: number, onViolation: (violation: PacketSizeViolation) => void): Duplex {
  return new PacketSizeGuard(inner, new FixedHeaderScanner(limitBytes), onViolation)
}

class PacketSizeGuard extends Duplex {
  readonly #inner: Duplex
  /** The socket's peer address, read by the broker's log lines. */
  readonly remoteAddress: string | undefined

  constructor (inner: Duplex, scanner: FixedHeaderScanner, onViolation: (violation: PacketSizeViolation) => void) {
    super()
    this.#inner = inner
    this.remoteAddress = (inner as { remoteAddress?: string }).remoteAddress
    inner.on('data', (chunk: Buffer) => {
      const violation = scanner.feed(chunk)
      if (violation !== null) {
        onViolation(violation)
        this.destroy()
        return
      }
      if (!this.push(chunk)) inner.pause()
    })
    inner.on('end', () => { this.push(null) })
    inner.on('error', (err) => { this.destroy(err) })
    inner.on('close', () => { if (!this.destroyed) this.destroy() })
  }

  override _read (): void { this.#inner.resume() }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#inner.destroyed) { callback(new Error('connection closed')); return }
    this.#inner.write(chunk, callback)
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#inner.end()
    callback()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#inner.destroyed) this.#inner.destroy()
    callback(error)
  }
}
