/**
 * `printmq virtual-printer`: a TCP ESC/POS printer for demos and tests. Prints one line
 * when it listens and one line per ticket, so whoever runs the demo sees the tickets.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { VirtualPrinterBadFlagError } from '../virtual-printer/errors.js'
import type { CommandSetOption } from '../virtual-printer/escpos-text.js'
import { VirtualPrinter, type Ticket } from '../virtual-printer/virtual-printer.js'
import { createInterface } from 'node:readline'
import { applyStatusCommand, STATUS_COMMANDS } from '../virtual-printer/status-commands.js'
import { untilSignal } from './signals.js'
import { mayReadTerminal } from './terminal.js'

const HELP = `usage: printmq virtual-printer [--port N] [--host H] [--out DIR] [--model auto|epson|star]
                               [--paper-near-end] [--paper-out] [--cover-open] [--silent]
                               [--print-delay MS] [--answer-delay MS] [--paper-left N]

A TCP printer speaking ESC/POS (and Star Line Mode cuts). Answers real-time status
(DLE EOT 1, 2, 4) as a ready printer unless a switch says otherwise, and stores each
ticket as DIR/{n}.bin (bytes) and DIR/{n}.txt (text).

  --port N          port to listen on (default 9100; 0 picks a free port)
  --host H          address to bind (default 127.0.0.1)
  --out DIR         where tickets go (default ./data/virtual-printer)
  --model M         command set to read: auto (default), epson or star
  --paper-near-end  report paper running low
  --paper-out       report paper out
  --cover-open      report the cover open
  --silent          never answer status requests
  --print-delay MS  each ticket takes MS to print; the printer reads nothing meanwhile
  --answer-delay MS answer each status request after MS
  --paper-left N    run out of paper after N more tickets

While it runs in the foreground, type a status on its terminal to switch it:
${Object.keys(STATUS_COMMANDS).join(', ')}. Started in the background (with &), it does not read
the terminal, so the shell does not stop it.`

const MODELS: readonly CommandSetOption[] = ['auto', 'epson', 'star']

function parseCount (flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,7}$/.test(value)) throw new VirtualPrinterBadFlagError(flag, `${JSON.stringify(value)} is not a whole number`)
  return Number(value)
}

function parsePort (value: string | undefined): number {
  if (value === undefined) return 9100
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65535) throw new VirtualPrinterBadFlagError('--port', `${JSON.stringify(value)} is not a port (0-65535)`)
  return port
}

/** One readable line for a ticket: its number, size, file and text. */
export function describeTicket (ticket: Ticket): string {
  const text = ticket.text.split('\n').map((line) => line.trim()).filter((line) => line !== '').join(' | ')
  const where = ticket.files !== undefined ? ` -> ${ticket.files.txt}` : ''
  return `ticket ${ticket.seq} (${ticket.bytes.length} bytes)${where}: ${text}`
}

/** Run the virtual printer until SIGINT or SIGTERM. */
export async function run (argv: string[], _env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
      'paper-near-end': { type: 'boolean' },
      'paper-out': { type: 'boolean' },
      'cover-open': { type: 'boolean' },
      silent: { type: 'boolean' },
      'print-delay': { type: 'string' },
      'answer-delay': { type: 'string' },
      'paper-left': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    console.log(HELP)
    return
  }
  const model = (values.model ?? 'auto') as CommandSetOption
  if (!MODELS.includes(model)) throw new VirtualPrinterBadFlagError('--model', `one of ${MODELS.join(', ')}`)
  const outDir = resolve(values.out ?? './data/virtual-printer')
  const printer = new VirtualPrinter({
    host: values.host ?? '127.0.0.1',
    port: parsePort(values.port),
    outDir,
    commandSet: model,
    status: {
      paperNearEnd: values['paper-near-end'] === true,
      paperOut: values['paper-out'] === true,
      coverOpen: values['cover-open'] === true,
      silent: values.silent === true,
      printDelayMs: parseCount('--print-delay', values['print-delay']) ?? 0,
      answerDelayMs: parseCount('--answer-delay', values['answer-delay']) ?? 0,
      paperLeft: parseCount('--paper-left', values['paper-left']) ?? null
    }
  })
  printer.on('ticket', (ticket) => { console.log(describeTicket(ticket)) })
  const port = await printer.start()
  console.log(`virtual printer listening on ${printer.host}:${port}, tickets in ${outDir}`)
  // In the background (`&`), reading the terminal would stop the printer (SIGTTIN).
  const input = mayReadTerminal() ? createInterface({ input: process.stdin }) : null
  if (input === null && process.stdin.isTTY === true) console.log('running in the background: status commands on the terminal are off (start it in the foreground to type them)')
  input?.on('line', (line) => {
    if (line.trim() === '') return
    console.log(applyStatusCommand(printer.status, line) ? `status: ${line.trim()}` : `unknown status ${JSON.stringify(line.trim())}; one of ${Object.keys(STATUS_COMMANDS).join(', ')}`)
  })
  await untilSignal()
  input?.close()
  await printer.stop()
}
