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
