/**
 * Render a job's document into the printer's command bytes with node-thermal-printer.
 *
 * node-thermal-printer is used only as an encoder: it is built without an `interface`,
 * so it never opens a connection of its own, and its buffer is handed to a
 * {@link PrinterTransport}. That keeps the real-time status requests (DLE EOT) on the
 * same socket as the ticket, under the agent's own connect/write/status timeouts,
 * instead of node-thermal-printer's network interface, which opens a socket per
 * `execute()` and cannot ask for status on it.
 */
import { CharacterSet, PrinterTypes, ThermalPrinter } from 'node-thermal-printer'
import type { JobContent, PrinterConfig, PrinterModel } from '../../shared/messages.js'
import { RenderError } from '../errors.js'

const PRINTER_TYPES: Readonly<Record<PrinterModel, PrinterTypes>> = {
  epson: PrinterTypes.EPSON,
  star: PrinterTypes.STAR
}

/**
 * Windows-1252 covers Western European text and the euro sign; for characters outside
 * it node-thermal-printer switches to another code page on its own.
 */
const CHARACTER_SET = CharacterSet.WPC1252

/** What rendering needs to know about the printer. */
export type RenderTarget = Pick<PrinterConfig, 'model' | 'width'>

/** The bytes that print `content` once, ending with a cut. Throws {@link RenderError}. */
export function renderDocument (content: JobContent, target: RenderTarget): Buffer {
  const printer = new ThermalPrinter({
    type: PRINTER_TYPES[target.model],
    // Empty on purpose: no interface means no connection (see the module comment).
    interface: '',
    width: target.width,
    characterSet: CHARACTER_SET
  })
  switch (content.type) {
    case 'text':
      for (const line of content.text.split('\n')) printer.println(line)
      break
    default:
      throw new RenderError(`content type ${JSON.stringify((content as { type: unknown }).type)} is not supported`)
  }
  printer.cut()
  return printer.getBuffer()
}
