/**
 * The recent live events of this process, in order, for `Last-Event-ID` resumption: a
 * ring buffer of the last `capacity` events. Event ids are `{epoch}-{sequence}`; the
 * epoch changes with every process, so an id from before a restart is recognised as
 * out of the window instead of being mistaken for a recent one.
 */
import { randomBytes } from 'node:crypto'

/** Kinds of live events. */
export const EVENT_TYPES = ['job', 'printer', 'agent'] as const
/** A kind of live event. */
export type EventType = typeof EVENT_TYPES[number]

/** One live event. */
export interface LiveEvent {
  readonly id: string
  readonly seq: number
  readonly type: EventType
  readonly tenant: string
  readonly branch: string
  readonly data: Readonly<Record<string, unknown>>
}

/** Bounded, ordered log of recent events. */
export class EventLog {
  readonly #capacity: number
  readonly #epoch = randomBytes(4).toString('hex')
  readonly #events: LiveEvent[] = []
  #seq = 0

  constructor (capacity: number) { this.#capacity = capacity }

  /** Append an event, giving it the next id. */
  append (event: Omit<LiveEvent, 'id' | 'seq'>): LiveEvent {
    this.#seq++
    const stored = { ...event, seq: this.#seq, id: `${this.#epoch}-${this.#seq}` }
    this.#events.push(stored)
    if (this.#events.length > this.#capacity) this.#events.shift()
    return stored
  }

  /**
   * Events after `lastEventId`, oldest first; null when that id is not in the window
   * (another process, or so old that events after it were dropped: there is a gap).
   */
  after (lastEventId: string): LiveEvent[] | null {
    const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId)
    if (match === null || match[1] !== this.#epoch) return null
    const seq = Number(match[2])
    if (seq > this.#seq) return null
    const oldest = this.#events[0]?.seq ?? this.#seq + 1
    // Resuming is gap-free only if the event right after `seq` is still kept.
    if (seq + 1 < oldest) return null
    return this.#events.filter((e) => e.seq > seq)
  }
}
