/**
 * Render a job's document into the printer's command bytes.
 *
 * node-thermal-printer is used only as an encoder: it is built without an `interface`,
 * so it never opens a connection of its own, and its buffer is handed to a
 * {@link PrinterTransport}. That keeps the real-time status requests (DLE EOT) on the
 * same connection as the ticket, under the agent's own timeouts.
 *
 * `raw` documents are the caller's own printer bytes and pass through unchanged. Lines of
 * a `text` document the printer cannot print from its code page (Arabic, Hebrew...) are
 * drawn as images, each run of such lines as one (complex-script.ts).
 */
import { PrinterTypes, ThermalPrinter } from 'node-thermal-printer'
import type { JobContent, PrinterConfig, PrinterModel } from '../../shared/messages.js'
import { RenderError } from '../errors.js'
import { characterSetFor } from './code-pages.js'
import { needsImage, paperDots, printRaster, textRaster } from './complex-script.js'
import { DOTS_PER_CHARACTER, renderReceipt } from './receipt-renderer.js'

const PRINTER_TYPES: Readonly<Record<PrinterModel, PrinterTypes>> = {
  epson: PrinterTypes.EPSON,
  star: PrinterTypes.STAR
}

/** What rendering needs to know about the printer. */
export type RenderTarget = Pick<PrinterConfig, 'model' | 'width' | 'codePage'>

/** The bytes that print `content` once. Throws {@link RenderError}. */
export async function renderDocument (content: JobContent, target: RenderTarget): Promise<Buffer> {
  if (content.type === 'raw') return Buffer.from(content.data, 'base64')
  const characterSet = characterSetFor(target.codePage)
  const printer = new ThermalPrinter({
    type: PRINTER_TYPES[target.model],
    // Empty on purpose: no interface means no connection (see the module comment).
    interface: '',
    width: target.width,
    characterSet
  })
  switch (content.type) {
    case 'text': {
      const lines = content.text.split('\n')
      for (let i = 0; i < lines.length;) {
        if (!needsImage(lines[i] as string, target.codePage)) {
          printer.println(lines[i] as string)
          i++
          continue
        }
        let end = i + 1
        while (end < lines.length && needsImage(lines[end] as string, target.codePage)) end++
        await printRaster(printer, await textRaster(lines.slice(i, end).join('\n'), {}, paperDots(target.width, DOTS_PER_CHARACTER)))
        i = end
      }
      printer.cut()
      break
    }
    case 'receipt':
      await renderReceipt(printer, content, {
        model: target.model,
        width: target.width,
        codePage: target.codePage,
        selectCodePage: () => { printer.setCharacterSet(characterSet) }
      })
      break
    default:
      throw new RenderError(`content type ${JSON.stringify((content as { type: unknown }).type)} is not supported`)
  }
  return printer.getBuffer()
}
