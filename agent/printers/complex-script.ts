/**
 * Text a thermal printer cannot print from its code page goes to paper as a raster
 * image (design brief §5): Arabic, Persian, Urdu and Hebrew need contextual shaping and
 * right-to-left ordering the printer's character generator does not do, Indic and
 * South-East Asian scripts need shaping too, and anything else outside the printer's
 * code page (CJK, emoji, Greek on cp1252...) has no glyph in it. Everything else stays
 * printer text: fast and crisp.
 *
 * Rendering: one SVG per text block, columns line or run of `text` lines, laid out at
 * the paper's width in dots (characters x 12, font A), drawn by resvg (HarfBuzz-style
 * shaping through rustybuzz, Unicode bidi) with Noto Naskh Arabic (SIL OFL 1.1, bundled
 * through @expo-google-fonts/noto-naskh-arabic; it has Latin letters and digits too),
 * DejaVu Sans when the system has it (Hebrew, Greek, Cyrillic), and any font files or
 * directories named in `PRINTMQ_FONTS` (for Thai, CJK...; resvg falls back per
 * character to any loaded font that has the glyph). The image is thresholded to 1 bit
 * and printed through node-thermal-printer's image path, as receipt images are (Epson
 * `GS v 0`, Star `ESC k` bands).
 *
 * Layout: a size-1 line is 36 dots high with a 24-dot font (a little taller than a
 * font-A text line, room for Arabic marks above and below); `width`/`height`
 * multiply it. Text is wrapped at spaces by measuring it (resvg's bounding box of the
 * ink), so nothing is clipped. A paragraph whose first strong character is
 * right-to-left is laid out right-to-left (Unicode P2/P3; resvg itself always assumes
 * a left-to-right paragraph, so it is wrapped in RLE ... PDF) and is right-aligned unless
 * the document says otherwise. A columns line uses the same column boxes as the text
 * layout (columns.ts), so prices still line up with the text lines around it.
 *
 * resvg is a native module of some megabytes: it is imported the first time such text
 * is printed, never by an idle agent.
 */
import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter } from 'node:path'
import { deflateSync } from 'node:zlib'
import type { ThermalPrinter } from 'node-thermal-printer'
import type { Align, CodePageName } from '../../shared/messages.js'
import { RenderError } from '../errors.js'
import { canEncode } from './code-pages.js'
import { cellWidths, defaultCellAlign, GAP, type Cell } from './columns.js'

/** Scripts that need shaping or right-to-left layout, and the bidi controls. */
const COMPLEX_SCRIPT = new RegExp('[' + [
  'Arabic', 'Hebrew', 'Syriac', 'Thaana', 'Nko', 'Samaritan', 'Mandaic', 'Adlam', 'Hanifi_Rohingya',
  'Devanagari', 'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam',
  'Sinhala', 'Thai', 'Lao', 'Tibetan', 'Myanmar', 'Khmer', 'Mongolian'
].map((script) => `\\p{Script=${script}}`).join('') + '\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]', 'u')

/** Scripts written right to left. */
const RIGHT_TO_LEFT = /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\u200f]/u
/** A strong character (a letter) or an explicit direction mark. */
const STRONG = /[\p{L}\u200e\u200f]/u

/** Whether `text` must be printed as an image on a printer using `codePage`. */
export function needsImage (text: string, codePage: CodePageName | undefined): boolean {
  return COMPLEX_SCRIPT.test(text) || !canEncode(text, codePage)
}

/** Whether a paragraph is right-to-left: its first strong character is (Unicode P2, P3). */
export function isRightToLeft (paragraph: string): boolean {
  const first = STRONG.exec(paragraph)
  return first !== null && RIGHT_TO_LEFT.test(first[0])
}

/** Font size of size-1 text, in dots (font A is 12 x 24). */
export const FONT_DOTS = 24
/** Height of a size-1 line, in dots: room for Arabic marks above and descenders below. */
export const LINE_DOTS = 36
/** Baseline of a size-1 line, in dots from its top. */
const BASELINE_DOTS = 26
/** A grey at or below this (of 255) prints black: a bit darker than half, for thin strokes. */
const THRESHOLD = 160
/** Rows per image command: a multiple of 24 (Star bands), well below printers' limits. */
const FRAGMENT_ROWS = 960
/** The tallest text image printed (as receipt images). */
const MAX_ROWS = 2400

const FAMILY = 'Noto Naskh Arabic'
const BUNDLED_FONTS = [
  '@expo-google-fonts/noto-naskh-arabic/400Regular/NotoNaskhArabic_400Regular.ttf',
  '@expo-google-fonts/noto-naskh-arabic/700Bold/NotoNaskhArabic_700Bold.ttf'
]
/** Debian's fonts-dejavu-core (Raspberry Pi OS desktop has it): Hebrew, Greek, Cyrillic. */
const SYSTEM_FONTS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'
]
/**
 * Text the bundled font covers alone: Arabic script, ASCII, direction and joining
 * controls. resvg reads every font file it is given for each measurement, so such text
 * (most Arabic tickets) is not slowed down by the other fonts.
 */
const BUNDLED_FONT_ONLY = /^[\p{Script=Arabic}\u0000-\u007f\u00a0\u200c-\u200f\u202a-\u202e\u2066-\u2069]*$/u
/** Extra font files or directories, separated by `:` (`;` on Windows). */
export const FONTS_VARIABLE = 'PRINTMQ_FONTS'

/** How a text block looks. */
export interface TextStyle {
  /** Unset: right for a right-to-left paragraph, otherwise left. */
  readonly align?: Align
  readonly bold?: boolean
  readonly underline?: boolean
  readonly width?: number
  readonly height?: number
}

/** A 1-bit image, one byte per dot (1: black), row by row. */
export interface Raster {
  readonly width: number
  readonly height: number
  readonly dots: Uint8Array
}

/** Paper width in dots for a printer `width` characters wide (a multiple of 8). */
export function paperDots (widthCharacters: number, dotsPerCharacter: number): number {
  return Math.floor(widthCharacters * dotsPerCharacter / 8) * 8
}

/** The raster of a text block (paragraphs separated by `\n`) across `dots`. */
export async function textRaster (text: string, style: TextStyle, dots: number): Promise<Raster> {
  const canvas = await Canvas.open(text)
  const look = lookOf(style)
  const lines: Placed[] = []
  let row = 0
  for (const paragraph of text.split('\n')) {
    const rtl = isRightToLeft(paragraph)
    for (const line of canvas.wrap(paragraph, look, rtl, dots)) {
      lines.push({ text: line, look, rtl, row, left: 0, width: dots, align: style.align ?? (rtl ? 'right' : 'left') })
      row++
    }
  }
  return await canvas.draw(lines, row, LINE_DOTS * look.height, dots)
}

/**
 * The raster of a columns line whose cells take the characters columns.ts gives them
 * on a `lineWidth`-character line, drawn in the same boxes on `dots`.
 */
export async function columnsRaster (cells: readonly Cell[], lineWidth: number, bold: boolean, dots: number): Promise<Raster> {
  const widths = cellWidths(cells, lineWidth)
  const canvas = await Canvas.open(cells.map((cell) => cell.text).join(' '))
  const look = lookOf({ bold })
  const unit = dots / lineWidth
  const lines: Placed[] = []
  let rows = 1
  let start = 0
  cells.forEach((cell, i) => {
    const chars = widths[i] as number
    const left = Math.round(start * unit)
    const width = Math.round((start + chars) * unit) - left
    start += chars + GAP
    let row = 0
    for (const paragraph of cell.text.split('\n')) {
      const rtl = isRightToLeft(paragraph)
      const align = cell.align ?? (rtl && i < cells.length - 1 ? 'right' : defaultCellAlign(i, cells.length))
      for (const line of canvas.wrap(paragraph, look, rtl, width)) lines.push({ text: line, look, rtl, row: row++, left, width, align })
    }
    rows = Math.max(rows, row)
  })
  return await canvas.draw(lines, rows, LINE_DOTS, dots)
}

/** Append `raster` to the printer's buffer as image commands (the receipt image path). */
export async function printRaster (printer: ThermalPrinter, raster: Raster): Promise<void> {
  for (let top = 0; top < raster.height; top += FRAGMENT_ROWS) {
    const height = Math.min(FRAGMENT_ROWS, raster.height - top)
    await printer.printImageBuffer(greyPng(raster.width, height, raster.dots.subarray(top * raster.width, (top + height) * raster.width)))
  }
}

interface Look {
  readonly bold: boolean
  readonly underline: boolean
  readonly width: number
  readonly height: number
}

/** A line of text in its box. */
interface Placed {
  readonly text: string
  readonly look: Look
  readonly rtl: boolean
  readonly row: number
  readonly left: number
  readonly width: number
  readonly align: Align
}

function lookOf (style: TextStyle): Look {
  return { bold: style.bold === true, underline: style.underline === true, width: style.width ?? 1, height: style.height ?? 1 }
}

type ResvgModule = typeof import('@resvg/resvg-js')
type ResvgOptions = NonNullable<ConstructorParameters<ResvgModule['Resvg']>[1]>

let resvgModule: Promise<ResvgModule> | undefined
const fontSettings = new Map<string, NonNullable<ResvgOptions['font']>>()
const resolveModule = createRequire(import.meta.url)

async function loadResvg (): Promise<ResvgModule> {
  resvgModule ??= import('@resvg/resvg-js')
  try {
    return await resvgModule
  } catch (err) {
    resvgModule = undefined
    throw new RenderError(`text in this script is printed as an image, but @resvg/resvg-js cannot be loaded: ${(err as Error).message}`)
  }
}

/**
 * Font files and directories for resvg: the bundled fonts alone when they cover `text`,
 * otherwise also the system's and those of `PRINTMQ_FONTS` (resolved once per value).
 */
function fonts (text: string): NonNullable<ResvgOptions['font']> {
  const extra = BUNDLED_FONT_ONLY.test(text) ? undefined : process.env[FONTS_VARIABLE] ?? ''
  const key = extra ?? '\u0000bundled'
  const known = fontSettings.get(key)
  if (known !== undefined) return known
  const fontFiles: string[] = []
  const fontDirs: string[] = []
  for (const font of BUNDLED_FONTS) {
    try {
      fontFiles.push(resolveModule.resolve(font))
    } catch {
      throw new RenderError(`the bundled font ${font} is missing (npm ci installs it)`)
    }
  }
  if (extra !== undefined) for (const file of SYSTEM_FONTS) if (kindOf(file) === 'file') fontFiles.push(file)
  for (const entry of (extra ?? '').split(delimiter).map((s) => s.trim()).filter((s) => s !== '')) {
    const kind = kindOf(entry)
    if (kind === 'file') fontFiles.push(entry)
    else if (kind === 'directory') fontDirs.push(entry)
    else throw new RenderError(`${FONTS_VARIABLE}: ${entry} is not a font file or directory`)
  }
  const settings = { loadSystemFonts: false, fontFiles, fontDirs, defaultFontFamily: FAMILY, defaultFontSize: FONT_DOTS }
  fontSettings.set(key, settings)
  return settings
}

function kindOf (path: string): 'file' | 'directory' | undefined {
  try {
    const stat = statSync(path)
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : undefined
  } catch {
    return undefined
  }
}

/** Measures and draws text with resvg. */
class Canvas {
  readonly #Resvg: ResvgModule['Resvg']
  readonly #renderAsync: ResvgModule['renderAsync']
  readonly #options: ResvgOptions
  readonly #measured = new Map<string, { x: number, width: number } | undefined>()

  private constructor (resvg: ResvgModule, options: ResvgOptions) {
    this.#Resvg = resvg.Resvg
    this.#renderAsync = resvg.renderAsync
    this.#options = options
  }

  /** A canvas with the fonts `text` needs. */
  static async open (text: string): Promise<Canvas> {
    const resvg = await loadResvg()
    return new Canvas(resvg, { font: fonts(text), background: 'white', logLevel: 'off' })
  }

  /** Horizontal extent of the ink of `text` drawn at x = 0; undefined when nothing is drawn. */
  measure (text: string, look: Look, rtl: boolean): { x: number, width: number } | undefined {
    if (text.trim() === '') return undefined
    const element = textElement(text, look, rtl)
    if (this.#measured.has(element)) return this.#measured.get(element)
    const box = new this.#Resvg(svg(1, 1, element), this.#options).getBBox()
    const ink = box === undefined ? undefined : { x: box.x, width: box.width }
    this.#measured.set(element, ink)
    return ink
  }

  /** `paragraph` broken at spaces (inside a word only when one word is too wide) into lines that fit `width`. */
  wrap (paragraph: string, look: Look, rtl: boolean, width: number): string[] {
    const fits = (text: string): boolean => (this.measure(text, look, rtl)?.width ?? 0) <= width
    if (fits(paragraph)) return [paragraph]
    const lines: string[] = []
    let line = ''
    for (const word of paragraph.split(' ')) {
      const candidate = line === '' ? word : `${line} ${word}`
      if (fits(candidate)) { line = candidate; continue }
      if (line !== '') lines.push(line)
      line = ''
      if (fits(word)) { line = word; continue }
      for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(word)) {
        if (line === '' || fits(line + segment)) line += segment
        else { lines.push(line); line = segment }
      }
    }
    lines.push(line)
    return lines
  }

  /** Render `lines` on `rows` rows of `rowDots` each, `dots` wide, thresholded to 1 bit. */
  async draw (lines: readonly Placed[], rows: number, rowDots: number, dots: number): Promise<Raster> {
    const height = rows * rowDots
    if (height > MAX_ROWS) throw new RenderError(`text drawn as an image is ${height} dots high, at most ${MAX_ROWS} are printed`)
    const elements: string[] = []
    for (const line of lines) {
      const ink = this.measure(line.text, line.look, line.rtl)
      if (ink === undefined) continue
      const x = line.align === 'right'
        ? line.left + line.width - (ink.x + ink.width)
        : line.align === 'center'
          ? line.left + (line.width - ink.width) / 2 - ink.x
          : line.left - ink.x
      const y = line.row * rowDots + BASELINE_DOTS * line.look.height
      elements.push(`<g transform="translate(${x.toFixed(2)} ${y})">${textElement(line.text, line.look, line.rtl)}</g>`)
    }
    // Off the event loop (libuv's thread pool): a tall block takes a while on a Pi.
    const image = await this.#renderAsync(svg(dots, height, elements.join('')), this.#options)
    const pixels = image.pixels
    const raster = new Uint8Array(image.width * image.height)
    // White background, black text: the red channel is the grey level.
    for (let i = 0; i < raster.length; i++) raster[i] = (pixels[i * 4] as number) <= THRESHOLD ? 1 : 0
    return { width: image.width, height: image.height, dots: raster }
  }
}

function svg (width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`
}

function textElement (text: string, look: Look, rtl: boolean): string {
  const attributes = [
    `font-family="${FAMILY}"`,
    `font-size="${FONT_DOTS * look.height}"`,
    look.bold ? 'font-weight="bold"' : '',
    look.underline ? 'text-decoration="underline"' : '',
    look.width !== look.height ? `transform="scale(${look.width / look.height} 1)"` : ''
  ].filter((a) => a !== '').join(' ')
  // resvg lays out every paragraph left to right: embed a right-to-left one (RLE ... PDF).
  const content = rtl ? `\u202b${text}\u202c` : text
  return `<text ${attributes} xml:space="preserve">${escapeXml(content)}</text>`
}

function escapeXml (text: string): string {
  return text
    // XML 1.0 allows no C0 controls but tab, LF, CR.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ' ')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** An 8-bit greyscale PNG of a 1-bit raster (PNG spec 11.2.2, filter 0 on every row). */
function greyPng (width: number, height: number, dots: Uint8Array): Buffer {
  const rows = Buffer.alloc((width + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = dots[y * width + x] === 1 ? 0 : 255
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth
  header[9] = 0 // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0))
  ])
}

function pngChunk (type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

let crcTable: Uint32Array | undefined

/** CRC-32 (PNG spec annex D); zlib.crc32 needs Node 20.15. */
function crc32 (bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
