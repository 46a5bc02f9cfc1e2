/** Reads a Server-Sent Events stream over a real HTTP connection (fetch + reader). */
import type { Test } from 'tap'

/** One parsed event, or a comment line (heartbeat). */
export interface SseItem {
  readonly kind: 'event' | 'comment'
  readonly id?: string
  readonly event?: string
  readonly data?: any
  readonly comment?: string
}

/** An open stream. */
export interface SseStream {
  readonly status: number
  readonly headers: Headers
  /** The next item that satisfies `accept`; items before it are consumed. */
  next (accept?: (item: SseItem) => boolean): Promise<SseItem>
  close (): void
}

/** Open `url` as an event stream; closed at `t`'s teardown. */
export async function openEventStream (t: Test, url: string, headers: Record<string, string>): Promise<SseStream> {
  const controller = new AbortController()
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  t.teardown(() => { controller.abort() })
  const items: SseItem[] = []
  const waiters: Array<{ accept: (item: SseItem) => boolean, resolve: (item: SseItem) => void, reject: (err: Error) => void }> = []
  let ended: Error | null = null
  const deliver = (): void => {
    for (const waiter of [...waiters]) {
      const index = items.findIndex(waiter.accept)
      if (index >= 0) {
        const item = items[index] as SseItem
        items.splice(0, index + 1)
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(item)
      } else if (ended !== null) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.reject(ended)
      }
    }
  }

  if (response.body !== null && response.ok) {
    void (async () => {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let end: number
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const item = parseBlock(block)
            if (item !== null) items.push(item)
          }
          deliver()
        }
        ended = new Error('stream ended')
      } catch (err) {
        ended = err as Error
      }
      deliver()
    })()
  }
  return {
    status: response.status,
    headers: response.headers,
    next: async (accept = () => true) => await new Promise((resolve, reject) => { waiters.push({ accept, resolve, reject }); deliver() }),
    close: () => { controller.abort() }
  }
}

function parseBlock (block: string): SseItem | null {
  const fields: Record<string, string> = {}
  let comment: string | null = null
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) { comment = line.slice(1).trim(); continue }
    const colon = line.indexOf(':')
    if (colon < 0) continue
    fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '')
  }
  if (comment !== null && Object.keys(fields).length === 0) return { kind: 'comment', comment }
  if (fields.data === undefined) return null
  return { kind: 'event', ...(fields.id !== undefined ? { id: fields.id } : {}), event: fields.event ?? 'message', data: JSON.parse(fields.data) }
}
