/**
 * Splits the byte stream a printer receives into real-time status requests and
 * tickets. A ticket is everything up to and including a cut; what is left when the
 * connection closes is a ticket too, unless it is only printer initialisation.
 *
 * Commands are stepped over whole (see escpos-commands.ts), so a 0x10 inside a raster
 * image is not mistaken for DLE; a command split across TCP segments waits for its
 * remaining bytes. Status requests are answered, not printed, so they are left out of
 * the ticket bytes.
 */
import { commandLength, DLE, ESC, FS, GS, INCOMPLETE, isCut, isStarOnly, type CommandSet } from './escpos-commands.js'
import type { CommandSetOption } from './escpos-text.js'

const EOT = 0x04

/** Something the stream contained. */
export type StreamEvent =
  | { readonly type: 'status-request', readonly n: number }
  | { readonly type: 'ticket', readonly bytes: Buffer }

/** Incremental reader of one connection's bytes. */
export class TicketStream {
  readonly #option: CommandSetOption
  #set: CommandSet
  #ticket: Buffer[] = []
  #carry: Buffer = Buffer.alloc(0)

  constructor (commandSet: CommandSetOption = 'auto') {
    this.#option = commandSet
    this.#set = commandSet === 'star' ? 'star' : 'epson'
  }

  /** Feed received bytes; returns what they completed, in order. */
  push (chunk: Buffer): StreamEvent[] {
    const bytes = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    const events: StreamEvent[] = []
    let segmentStart = 0
    let i = 0
    while (i < bytes.length) {
      const byte = bytes[i] as number
      if (byte !== ESC && byte !== GS && byte !== DLE && byte !== FS) {
        i++
        continue
      }
      if (this.#option === 'auto' && isStarOnly(bytes, i)) this.#set = 'star'
      const length = commandLength(bytes, i, this.#set)
      if (length === INCOMPLETE) break
      if (byte === DLE && bytes[i + 1] === EOT) {
        this.#ticket.push(bytes.subarray(segmentStart, i))
        events.push({ type: 'status-request', n: bytes[i + 2] as number })
        segmentStart = i + length
      } else if (isCut(bytes, i, length, this.#set)) {
        this.#ticket.push(bytes.subarray(segmentStart, i + length))
        events.push({ type: 'ticket', bytes: this.#takeTicket() })
        segmentStart = i + length
      }
      i += length
    }
    this.#ticket.push(bytes.subarray(segmentStart, i))
    this.#carry = Buffer.from(bytes.subarray(i))
    return events
  }

  /** The connection closed: the pending bytes, if they would print anything. */
  end (): Buffer | null {
    this.#ticket.push(this.#carry)
    this.#carry = Buffer.alloc(0)
    const rest = this.#takeTicket()
    return isOnlyInitialisation(rest) ? null : rest
  }

  #takeTicket (): Buffer {
    const bytes = Buffer.concat(this.#ticket)
    this.#ticket = []
    return bytes
  }
}

/** True for bytes that are nothing but `ESC @` (node-thermal-printer ends each cut with one). */
function isOnlyInitialisation (bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i += 2) {
    if (bytes[i] !== ESC || bytes[i + 1] !== 0x40) return false
  }
  return true
}
