/**
 * A connected pair of in-memory streams, so printmq's own server can talk MQTT to the
 * embedded broker without a socket (node:stream's duplexPair needs Node 22.6).
 */
import { Duplex } from 'node:stream'

class PairedStream extends Duplex {
  peer: PairedStream | null = null

  override _read (): void {}

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.peer?.push(chunk)
    callback()
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.peer?.push(null)
    callback()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer
    this.peer = null
    if (peer !== null && !peer.destroyed) peer.destroy()
    callback(error)
  }
}

/** Two streams where what is written to one is read from the other. */
export function createStreamPair (): [Duplex, Duplex] {
  const a = new PairedStream()
  const b = new PairedStream()
  a.peer = b
  b.peer = a
  return [a, b]
}
