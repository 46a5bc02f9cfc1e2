/**
 * `printmq agent --check`: can this agent work? Connects to the broker with the
 * license (the broker's answer tells a bad license from an unreachable broker), waits
 * for the retained printer config, and asks each printer for its status. Returns a
 * readable report; the caller prints it and exits non-zero on problems.
 */
import { connectAsync } from 'mqtt'
import { agentMqttIdentity } from '../shared/license.js'
import { decodeMessage, type PrinterConfig, type PrinterConnection } from '../shared/messages.js'
import { agentTopic } from '../shared/topics.js'
import type { AgentConfig } from './config.js'
import { PrinterConnections } from './printer-connections.js'
import { probePrinter } from './status-poller.js'
import { canPrint } from './printers/status-check.js'
import type { TransportFactory } from './printers/transport.js'

/** One line of the report. */
export interface CheckLine {
  readonly ok: boolean
  readonly subject: string
  readonly detail: string
}

/** The report of a check. */
export interface CheckReport {
  readonly lines: readonly CheckLine[]
  readonly problems: number
}

/** Options of {@link runAgentCheck}. */
export interface CheckOptions {
  readonly transports: TransportFactory
  /** Time to wait for the broker and for the retained config, ms. */
  readonly timeoutMs?: number
}

/** CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3] that blame the credentials. */
const BAD_CREDENTIALS = new Set([4, 5])

/** Run the check. Never throws for a problem it can describe. */
export async function runAgentCheck (config: AgentConfig, options: CheckOptions): Promise<CheckReport> {
  const lines: CheckLine[] = []
  const timeoutMs = options.timeoutMs ?? 5000
  const identity = agentMqttIdentity(config.agent)
  const who = `${config.agent.tenant}/${config.agent.branch}/${config.agent.agent}`
  const startedAt = performance.now()
  let client
  try {
    client = await connectAsync(config.url, {
      clientId: `${identity.clientId}`,
      username: identity.username,
      password: config.licenseKey,
      protocolVersion: 4,
      // The broker ties the client id to the license, so the check logs in as the agent
      // itself (a running agent is disconnected and reconnects). `clean: false` keeps the
      // agent's session and its queued jobs; the check never acknowledges a job (see
      // handleMessage below), so each is delivered to the agent again.
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs
    })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'number' && BAD_CREDENTIALS.has(code)) {
      lines.push({ ok: true, subject: `broker ${redact(config.url)}`, detail: 'reachable' })
      lines.push({ ok: false, subject: `license ${who}`, detail: `refused by the broker (CONNACK ${code}): revoked, rotated or unknown` })
    } else {
      lines.push({ ok: false, subject: `broker ${redact(config.url)}`, detail: `not reachable: ${(err as Error).message}` })
    }
    return report(lines)
  }
  lines.push({ ok: true, subject: `broker ${redact(config.url)}`, detail: `connected in ${Math.round(performance.now() - startedAt)} ms` })
  lines.push({ ok: true, subject: `license ${who}`, detail: 'accepted' })
  let printers: PrinterConfig[] | undefined
  try {
    printers = await retainedConfig(client, agentTopic(config.agent, 'config'), timeoutMs)
  } finally {
    await client.endAsync(true).catch(() => {})
  }
  if (printers === undefined) {
    lines.push({ ok: false, subject: 'config', detail: `no printer config within ${timeoutMs} ms: printmq's server publishes it when the agent logs in or comes online; is the server running and connected to this broker?` })
    return report(lines)
  }
  lines.push({ ok: printers.length > 0, subject: 'config', detail: `${printers.length} printer${printers.length === 1 ? '' : 's'}` })
  const connections = new PrinterConnections(options.transports)
  const statuses = await Promise.all(printers.map(async (p) => await probePrinter(p, connections, config.statusTimeoutMs)))
  printers.forEach((printer, i) => {
    const status = statuses[i]
    const state = status === undefined ? 'unknown' : status.state
    lines.push({
      ok: canPrint(state),
      subject: `printer ${printer.id} (${printer.model}, ${describeConnection(printer.connection)})`,
      detail: status?.detail !== undefined ? `${state}: ${status.detail}` : state
    })
  })
  return report(lines)
}

/** The report as text, one line per check and a summary. */
export function formatReport (r: CheckReport): string {
  const width = Math.max(...r.lines.map((l) => l.subject.length))
  const body = r.lines.map((l) => `${l.ok ? ' ok ' : 'FAIL'}  ${l.subject.padEnd(width)}  ${l.detail}`)
  const summary = r.problems === 0 ? 'all checks passed' : `${r.problems} problem${r.problems === 1 ? '' : 's'} found`
  return [...body, summary].join('\n')
}

async function retainedConfig (client: Awaited<ReturnType<typeof connectAsync>>, topic: string, timeoutMs: number): Promise<PrinterConfig[] | undefined> {
  const handle = client.handleMessage.bind(client)
  client.handleMessage = (packet, callback) => {
    if (packet.topic === topic) handle(packet, callback)
  }
  const received = new Promise<PrinterConfig[] | undefined>((resolve) => {
    const timer = setTimeout(() => { resolve(undefined) }, timeoutMs)
    client.on('message', (t, payload) => {
      if (t !== topic) return
      clearTimeout(timer)
      try {
        resolve(payload.length === 0 ? [] : decodeMessage('agent-config', payload).printers)
      } catch {
        resolve(undefined)
      }
    })
  })
  await client.subscribeAsync(topic, { qos: 1 })
  return await received
}

function describeConnection (c: PrinterConnection): string {
  switch (c.type) {
    case 'tcp': return `tcp ${c.host}:${c.port}`
    case 'serial': return `serial ${c.path}@${c.baudRate}`
    case 'device': return `device ${c.path}`
  }
}

function redact (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
  } catch {
    return '[unparseable url]'
  }
}

function report (lines: CheckLine[]): CheckReport {
  return { lines, problems: lines.filter((l) => !l.ok).length }
}
