/** Signal handling for long-running commands. */
import { once } from 'node:events'

/**
 * Resolves on the first SIGINT or SIGTERM. The handlers are removed then, so a second
 * signal during shutdown ends the process the default way.
 */
export async function untilSignal (): Promise<NodeJS.Signals> {
  const controller = new AbortController()
  // The signal that does not come rejects with an AbortError once aborted; swallow it.
  const signal = async (name: NodeJS.Signals): Promise<NodeJS.Signals | null> =>
    await once(process, name, { signal: controller.signal }).then(() => name, () => null)
  const received = await Promise.race([signal('SIGINT'), signal('SIGTERM')])
  controller.abort()
  return received ?? 'SIGTERM'
}

/**
 * Run `onSignal` at the next SIGINT or SIGTERM (a second signal during a graceful
 * shutdown: the operator wants out now). Returns the function that stops listening.
 */
export function onNextSignal (onSignal: (signal: NodeJS.Signals) => void): () => void {
  const handler = (signal: NodeJS.Signals): void => { off(); onSignal(signal) }
  const off = (): void => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  return off
}

/**
 * Stop a server within `graceMs`, the way SIGTERM should: resolves with the exit code,
 * 0 when `stop` finished in time, 1 when the grace period ran out or a second signal
 * came first (whatever `stop` still does is abandoned: the caller exits).
 */
export async function stopWithin (stop: () => Promise<void>, graceMs: number, onTimeout: () => void, onForced: (signal: NodeJS.Signals) => void): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  let offSignal: (() => void) | undefined
  const outcome = await Promise.race([
    stop().then(() => 0),
    new Promise<number>((resolve) => { timer = setTimeout(() => { onTimeout(); resolve(1) }, graceMs) }),
    new Promise<number>((resolve) => { offSignal = onNextSignal((signal) => { onForced(signal); resolve(1) }) })
  ])
  clearTimeout(timer)
  offSignal?.()
  return outcome
}
