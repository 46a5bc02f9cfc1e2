/**
 * Probes TCP addresses for printers: connect, then ask ESC/POS real-time status
 * (DLE EOT 1, 2, 4) as the agent does before every job. Only those three-byte requests
 * are sent: nothing that would print or feed paper. A connection that is accepted but
 * never answered is a port that is open but no ESC/POS printer (or a Star printer in
 * Star Line Mode, which ignores DLE EOT; see agent/printers/status-check.ts).
 *
 * Probes run at most `concurrency` at a time, each step bounded by `timeoutMs`, so a
 * request of N addresses takes at most about ceil(N / concurrency) * 5 * timeoutMs.
 */
import { conditionsFromStatus, printerStateFromConditions, STATUS_REQUESTS, type StatusRequest } from '../../shared/escpos-status.js'
import { DISCOVERY_CONCURRENCY, type TcpProbeResult } from '../../shared/discovery-messages.js'
import { TcpTransport } from '../printers/tcp-transport.js'
import type { PrinterTransport } from '../printers/transport.js'

/** One address to probe. */
export interface TcpTarget { readonly host: string, readonly port: number }

/** Opens a transport to an address; the TCP transport unless replaced. */
export type TcpConnector = (target: TcpTarget, timeoutMs: number) => PrinterTransport

const defaultConnector: TcpConnector = (target, timeoutMs) =>
  new TcpTransport(target.host, target.port, { connectMs: timeoutMs, writeMs: timeoutMs })

function messageOf (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 512)
}

/** Probe one address. Never rejects: every failure is a result. */
export async function probeTcp (target: TcpTarget, timeoutMs: number, connect: TcpConnector = defaultConnector): Promise<TcpProbeResult> {
  const base = { host: target.host, port: target.port }
  let transport: PrinterTransport
  try {
    transport = connect(target, timeoutMs)
    await transport.open()
  } catch (err) {
    return { ...base, reachable: false, statusAnswered: false, detail: messageOf(err) }
  }
  try {
    const answers: number[] = []
    for (const n of STATUS_REQUESTS) {
      const answer = await requestStatus(transport, n, timeoutMs)
      // Text from another service (an HTTP error page, a banner) can contain a byte with
      // the fixed bits of a status answer; a printer sends nothing but the answers.
      const stray = transport.strayBytes ?? 0
      if (stray > 0) {
        return { ...base, reachable: true, statusAnswered: false, detail: `connected; answered with ${stray} bytes that are not ESC/POS status: another service, not a printer` }
      }
      if (answer === null) {
        return {
          ...base,
          reachable: true,
          statusAnswered: answers.length > 0,
          detail: `connected; no answer to DLE EOT ${n} within ${timeoutMs} ms`
        }
      }
      answers.push(answer)
    }
    const [printer, offlineCause, paper] = answers as [number, number, number]
    return { ...base, reachable: true, statusAnswered: true, state: printerStateFromConditions(conditionsFromStatus({ printer, offlineCause, paper })) }
  } finally {
    await transport.close().catch(() => {})
  }
}

async function requestStatus (transport: PrinterTransport, n: StatusRequest, timeoutMs: number): Promise<number | null> {
  try {
    return await transport.requestStatus(n, timeoutMs)
  } catch {
    // The peer closed the connection: no answer.
    return null
  }
}

/** Options of {@link probeTcpTargets}. */
export interface ProbeOptions {
  readonly timeoutMs: number
  readonly concurrency?: number
  readonly connect?: TcpConnector
  /** Once aborted, no further probe starts; the result then lacks the targets not probed. */
  readonly signal?: AbortSignal
}

/** Probe every target, at most `concurrency` at a time; results in the targets' order. */
export async function probeTcpTargets (targets: readonly TcpTarget[], options: ProbeOptions): Promise<TcpProbeResult[]> {
  const results: Array<TcpProbeResult | undefined> = new Array(targets.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < targets.length && options.signal?.aborted !== true) {
      const index = next++
      results[index] = await probeTcp(targets[index] as TcpTarget, options.timeoutMs, options.connect)
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency ?? DISCOVERY_CONCURRENCY, targets.length))
  await Promise.all(Array.from({ length: workers }, worker))
  return results.filter((r): r is TcpProbeResult => r !== undefined)
}
