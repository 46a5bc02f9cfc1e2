/**
 * Renders a `receipt` document block by block with node-thermal-printer, for Epson
 * (ESC/POS) or Star (Line Mode). Where node-thermal-printer has no command, or a wrong
 * one, the bytes are written here:
 * - Epson cash drawer: node-thermal-printer sends `ESC p 0` and `ESC p 1` without the
 *   pulse times t1 t2, which a printer reads as one command swallowing the next bytes;
 *   printmq sends `ESC p 0 25 250` (pin 2, 50 ms on, 500 ms off; ESC/POS `ESC p m t1 t2`).
 * - Star QR code: node-thermal-printer omits the `ESC GS y D 1 0` that introduces the
 *   data, so the printer would print the length and data as text.
 * - Star text size (`ESC i n1 n2`) and buzzer (`ESC GS BEL m t1 t2`): not implemented
 *   for Star by node-thermal-printer.
 * - Text in a size wider than 1 is wrapped here, to the characters that fit.
 * - A text or columns block with text the printer cannot print from its code page
 *   (Arabic, Hebrew, other scripts that need shaping, anything outside the page) is
 *   drawn as one raster image the width of the paper (complex-script.ts).
 */
import type { ThermalPrinter } from 'node-thermal-printer'
import type { Align, BarcodeSymbology, CodePageName, PrinterModel, ReceiptBlock, ReceiptContent } from '../../shared/messages.js'
import { RenderError } from '../errors.js'
import { layoutColumns, wrapText } from './columns.js'
import { columnsRaster, needsImage, paperDots, printRaster, textRaster } from './complex-script.js'

/** Dots per character of font A: a 48-character printer is 576 dots wide (80 mm paper). */
export const DOTS_PER_CHARACTER = 12

/** Epson pulse: pin 2, on 25 x 2 ms, off 250 x 2 ms. */
const EPSON_DRAWER_PULSE = Buffer.from([0x1b, 0x70, 0x00, 25, 250])
/** Star buzzer 1, on and off 10 x 20 ms. */
const STAR_BEEP = Buffer.from([0x1b, 0x1d, 0x07, 0x01, 10, 10])

/** `GS k m` barcode system (Epson) and `ESC b n1` (Star) per symbology. */
const BARCODE_TYPES: Readonly<Record<BarcodeSymbology, { epson: number, star: number }>> = Object.freeze({
  code128: { epson: 73, star: 6 },
  ean13: { epson: 67, star: 3 },
  code39: { epson: 69, star: 4 }
})

/** What the receipt renderer needs besides the document. */
export interface ReceiptTarget {
  readonly model: PrinterModel
  readonly width: number
  /** The printer's code page (default cp1252): text outside it is printed as an image. */
  readonly codePage?: CodePageName
  /** Re-selects the document's code page (after a cut, `ESC @` resets it). */
  readonly selectCodePage: () => void
}

/** Append the receipt's commands to `printer`; ends with a cut. */
export async function renderReceipt (printer: ThermalPrinter, receipt: ReceiptContent, target: ReceiptTarget): Promise<void> {
  const last = receipt.blocks.length - 1
  for (const [index, block] of receipt.blocks.entries()) await renderBlock(printer, block, target, index === last)
  if (receipt.blocks.at(-1)?.type !== 'cut') printer.cut()
}

async function renderBlock (printer: ThermalPrinter, block: ReceiptBlock, target: ReceiptTarget, isLast: boolean): Promise<void> {
  switch (block.type) {
    case 'text': {
      if (needsImage(block.text, target.codePage)) {
        await printRaster(printer, await textRaster(block.text, block, paperDots(target.width, DOTS_PER_CHARACTER)))
        return
      }
      const width = block.width ?? 1
      const height = block.height ?? 1
      align(printer, block.align)
      if (block.bold === true) printer.bold(true)
      if (block.underline === true) printer.underline(true)
      if (width > 1 || height > 1) setSize(printer, target.model, width, height)
      for (const line of wrapText(block.text, Math.floor(target.width / width))) printer.println(line)
      if (width > 1 || height > 1) setSize(printer, target.model, 1, 1)
      if (block.underline === true) printer.underline(false)
      if (block.bold === true) printer.bold(false)
      align(printer, undefined)
      return
    }
    case 'columns':
      if (block.columns.some((cell) => needsImage(cell.text, target.codePage))) {
        await printRaster(printer, await columnsRaster(block.columns, target.width, block.bold === true, paperDots(target.width, DOTS_PER_CHARACTER)))
        return
      }
      if (block.bold === true) printer.bold(true)
      for (const line of layoutColumns(block.columns, target.width)) printer.println(line)
      if (block.bold === true) printer.bold(false)
      return
    case 'divider':
      printer.drawLine(block.char ?? '-')
      return
    case 'qr':
      align(printer, block.align ?? 'center')
      if (target.model === 'star') {
        printer.add(starQr(block.data, block.cellSize ?? 4, block.correction ?? 'M'))
      } else {
        printer.printQR(block.data, { model: 2, cellSize: block.cellSize ?? 4, correction: block.correction ?? 'M' })
        printer.newLine()
      }
      align(printer, undefined)
      return
    case 'barcode':
      checkBarcode(block.symbology, block.data)
      align(printer, block.align ?? 'center')
      if (target.model === 'star') {
        printer.printBarcode(block.data, BARCODE_TYPES[block.symbology].star, { characters: 2, mode: 2, height: block.height ?? 80 } as never)
      } else {
        printer.printBarcode(block.data, BARCODE_TYPES[block.symbology].epson, { hriPos: 2, hriFont: 0, width: 2, height: block.height ?? 80 })
      }
      printer.newLine()
      align(printer, undefined)
      return
    case 'image':
      await renderImage(printer, block.png, block.align, target)
      return
    case 'feed':
      for (let i = 0; i < block.lines; i++) printer.newLine()
      return
    case 'cut':
      if (block.partial === true) printer.partialCut()
      else printer.cut()
      // Only when more follows: bytes after the last cut would wait in the printer (a
      // printer that splits jobs at cuts would see an empty extra one).
      if (!isLast) target.selectCodePage()
      return
    case 'drawer':
      if (target.model === 'star') printer.openCashDrawer()
      else printer.add(EPSON_DRAWER_PULSE)
      return
    case 'beep':
      for (let i = 0; i < (block.times ?? 1); i++) {
        if (target.model === 'star') printer.add(STAR_BEEP)
        else printer.beep(1, 1)
      }
  }
}

async function renderImage (printer: ThermalPrinter, base64: string, alignment: Align | undefined, target: ReceiptTarget): Promise<void> {
  const png = Buffer.from(base64, 'base64')
  const size = pngSize(png)
  const dots = target.width * DOTS_PER_CHARACTER
  if (size.width > dots) throw new RenderError(`image is ${size.width} dots wide, the paper ${dots}`)
  if (size.height > 2400) throw new RenderError(`image is ${size.height} dots high, at most 2400 are printed`)
  align(printer, alignment ?? 'center')
  try {
    await printer.printImageBuffer(png)
  } catch (err) {
    throw new RenderError(`image is not a readable PNG: ${(err as Error).message}`)
  }
  if (target.model === 'epson') printer.newLine()
  align(printer, undefined)
}

function align (printer: ThermalPrinter, value: Align | undefined): void {
  if (value === 'center') printer.alignCenter()
  else if (value === 'right') printer.alignRight()
  else printer.alignLeft()
}

function setSize (printer: ThermalPrinter, model: PrinterModel, width: number, height: number): void {
  // Epson GS ! n: high nibble width - 1, low nibble height - 1 (node-thermal-printer's
  // setTextSize(height, width) puts its first argument in the high nibble).
  if (model === 'epson') printer.setTextSize(width - 1, height - 1)
  else printer.add(Buffer.from([0x1b, 0x69, height - 1, width - 1]))
}

function checkBarcode (symbology: BarcodeSymbology, data: string): void {
  if (symbology === 'ean13' && !/^\d{12,13}$/.test(data)) throw new RenderError('an EAN-13 barcode needs 12 or 13 digits')
  if (symbology === 'code39' && !/^[0-9A-Z $%*+\-./]+$/.test(data)) throw new RenderError('a Code 39 barcode takes 0-9, A-Z and space $ % * + - . /')
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Width and height from a PNG's IHDR chunk (PNG spec 11.2.2), checked before decoding. */
function pngSize (png: Buffer): { width: number, height: number } {
  if (png.length < 24 || !png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new RenderError('image is not a PNG')
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

const QR_CORRECTION = Object.freeze({ L: 0, M: 1, Q: 2, H: 3 })

/** Star Line Mode QR code: model 2, correction, cell size, data, print. */
function starQr (data: string, cellSize: number, correction: keyof typeof QR_CORRECTION): Buffer {
  const bytes = Buffer.from(data, 'latin1')
  return Buffer.concat([
    Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x30, 0x02]),
    Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x31, QR_CORRECTION[correction]]),
    Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x32, cellSize]),
    Buffer.from([0x1b, 0x1d, 0x79, 0x44, 0x31, 0x00, bytes.length & 0xff, bytes.length >> 8]),
    bytes,
    Buffer.from([0x1b, 0x1d, 0x79, 0x50, 0x0a])
  ])
}
