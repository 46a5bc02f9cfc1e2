/**
 * A strict decoder for the printer commands printmq emits: Epson ESC/POS and Star Line
 * Mode, the subset that text, receipt and status use. Every byte must belong to a
 * known command with valid parameters, or to text; anything else throws
 * {@link EscPosDecodeError} naming the offset. Tests use it to check rendered tickets
 * command by command, so a malformed command (a missing parameter that would swallow the
 * next bytes) fails a test instead of garbling a kitchen ticket.
 *
 * References: Epson ESC/POS Application Programming Guide (command pages named below);
 * Star Line Mode Command Specifications.
 */
import { DEFAULT_CODE_PAGE, epsonCodePage, starCodePage, type CodePage } from './code-pages.js'
import type { CommandSet } from './escpos-commands.js'

/** One decoded command (or run of text). */
export type Command =
  | { readonly op: 'text', readonly text: string }
  | { readonly op: 'lf' }
  | { readonly op: 'init' }
  | { readonly op: 'code-page', readonly n: number }
  | { readonly op: 'print-mode', readonly n: number }
  | { readonly op: 'bold', readonly on: boolean }
  | { readonly op: 'underline', readonly n: number }
  | { readonly op: 'align', readonly align: 'left' | 'center' | 'right' }
  | { readonly op: 'size', readonly width: number, readonly height: number }
  | { readonly op: 'feed', readonly lines: number }
  | { readonly op: 'cut', readonly partial: boolean }
  | { readonly op: 'drawer', readonly pin: number }
  | { readonly op: 'drawer-pulse', readonly on: number, readonly off: number }
  | { readonly op: 'beep', readonly times: number }
  | { readonly op: 'qr-model', readonly model: number }
  | { readonly op: 'qr-size', readonly size: number }
  | { readonly op: 'qr-correction', readonly level: 'L' | 'M' | 'Q' | 'H' }
  | { readonly op: 'qr-store', readonly data: string }
  | { readonly op: 'qr-print' }
  | { readonly op: 'barcode-setting', readonly name: 'hri-position' | 'hri-font' | 'module-width' | 'height', readonly n: number }
  | { readonly op: 'barcode', readonly system: number, readonly data: string, readonly height?: number }
  | { readonly op: 'image', readonly widthDots: number, readonly height: number }
  | { readonly op: 'line-spacing', readonly n: number | null }
  | { readonly op: 'status-request', readonly n: number }

/** The bytes at `offset` are not a command of the subset. */
export class EscPosDecodeError extends Error {
  readonly code = 'PRINTMQ_VIRTUAL_PRINTER_DECODE'
  readonly offset: number
  constructor (offset: number, reason: string) {
    super(`byte ${offset}: ${reason}`)
    this.name = 'EscPosDecodeError'
    this.offset = offset
  }
}

const ALIGN = ['left', 'center', 'right'] as const
const CORRECTION = ['L', 'M', 'Q', 'H'] as const

class Reader {
  i = 0
  constructor (readonly bytes: Uint8Array) {}
  get done (): boolean { return this.i >= this.bytes.length }
  peek (ahead = 0): number | undefined { return this.bytes[this.i + ahead] }
  byte (what: string): number {
    const value = this.bytes[this.i]
    if (value === undefined) throw new EscPosDecodeError(this.i, `stream ends inside ${what}`)
    this.i++
    return value
  }
  take (length: number, what: string): Uint8Array {
    if (this.i + length > this.bytes.length) throw new EscPosDecodeError(this.i, `stream ends inside ${what}`)
    const slice = this.bytes.subarray(this.i, this.i + length)
    this.i += length
    return slice
  }
  expect (value: number, what: string): void {
    const at = this.i
    if (this.byte(what) !== value) throw new EscPosDecodeError(at, `${what}: expected 0x${value.toString(16)}`)
  }
}

function oneOf (r: Reader, allowed: readonly number[], what: string): number {
  const at = r.i
  const value = r.byte(what)
  if (!allowed.includes(value)) throw new EscPosDecodeError(at, `${what}: ${value} is not one of ${allowed.join(', ')}`)
  return value
}

function range (r: Reader, min: number, max: number, what: string): number {
  const at = r.i
  const value = r.byte(what)
  if (value < min || value > max) throw new EscPosDecodeError(at, `${what}: ${value} is outside ${min}-${max}`)
  return value
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1')

/** Decode `bytes` as `set`; throws {@link EscPosDecodeError} at the first unknown byte. */
export function decodeCommands (bytes: Uint8Array, set: CommandSet): Command[] {
  const r = new Reader(bytes)
  const commands: Command[] = []
  let page: CodePage = DEFAULT_CODE_PAGE
  let text = ''
  const flush = (): void => {
    if (text !== '') commands.push({ op: 'text', text })
    text = ''
  }
  while (!r.done) {
    const byte = r.peek() as number
    if ((byte >= 0x20 && byte < 0x7f) || byte >= 0x80) {
      text += byte >= 0x80 ? page(byte) : String.fromCharCode(byte)
      r.i++
      continue
    }
    flush()
    const command = set === 'epson' ? epsonCommand(r) : starCommand(r)
    if (command.op === 'code-page') page = set === 'epson' ? epsonCodePage(command.n) : starCodePage(command.n)
    if (command.op === 'init') page = DEFAULT_CODE_PAGE
    commands.push(command)
  }
  flush()
  return commands
}

function common (r: Reader, at: number): Command | null {
  const byte = r.peek() as number
  if (byte === 0x0a) { r.i++; return { op: 'lf' } }
  if (byte === 0x10 && r.peek(1) === 0x04) { // DLE EOT n (real-time status)
    r.i += 2
    return { op: 'status-request', n: oneOf(r, [1, 2, 3, 4], 'DLE EOT n') }
  }
  if (byte !== 0x1b && byte !== 0x1d) throw new EscPosDecodeError(at, `unexpected control byte 0x${byte.toString(16)}`)
  return null
}

function epsonCommand (r: Reader): Command {
  const at = r.i
  const simple = common(r, at)
  if (simple !== null) return simple
  const prefix = r.byte('command')
  const c = r.byte('command')
  if (prefix === 0x1b) {
    switch (c) {
      case 0x40: return { op: 'init' } // ESC @
      case 0x74: return { op: 'code-page', n: r.byte('ESC t n') } // ESC t n
      case 0x21: return { op: 'print-mode', n: r.byte('ESC ! n') }
      case 0x45: return { op: 'bold', on: oneOf(r, [0, 1, 48, 49], 'ESC E n') % 2 === 1 } // only the LSB counts
      case 0x2d: return { op: 'underline', n: oneOf(r, [0, 1, 2, 48, 49, 50], 'ESC - n') % 48 }
      case 0x61: return { op: 'align', align: ALIGN[oneOf(r, [0, 1, 2], 'ESC a n')] as 'left' }
      case 0x64: return { op: 'feed', lines: r.byte('ESC d n') }
      case 0x32: return { op: 'line-spacing', n: null }
      case 0x33: return { op: 'line-spacing', n: r.byte('ESC 3 n') }
      case 0x70: { // ESC p m t1 t2: pulse
        const pin = oneOf(r, [0, 1, 48, 49], 'ESC p m') % 48
        const t1 = r.byte('ESC p t1')
        const t2 = r.byte('ESC p t2')
        if (t1 > t2) throw new EscPosDecodeError(at, 'ESC p: t1 must not exceed t2')
        return { op: 'drawer', pin: pin === 0 ? 2 : 5 }
      }
      case 0x42: { // ESC B n t: buzzer
        const times = range(r, 1, 9, 'ESC B n')
        range(r, 1, 9, 'ESC B t')
        return { op: 'beep', times }
      }
    }
  } else {
    switch (c) {
      case 0x21: { // GS ! n
        const n = r.byte('GS ! n')
        if ((n & 0x88) !== 0) throw new EscPosDecodeError(at + 2, `GS ! n: ${n} is not a size`)
        return { op: 'size', width: (n >> 4) + 1, height: (n & 0x0f) + 1 }
      }
      case 0x56: { // GS V m [n]
        const m = oneOf(r, [0, 1, 48, 49, 65, 66], 'GS V m')
        if (m >= 65) r.byte('GS V n')
        return { op: 'cut', partial: m % 2 === 1 || m === 66 }
      }
      case 0x28: return epsonExtended(r, at)
      case 0x48: return { op: 'barcode-setting', name: 'hri-position', n: oneOf(r, [0, 1, 2, 3, 48, 49, 50, 51], 'GS H n') % 48 }
      case 0x66: return { op: 'barcode-setting', name: 'hri-font', n: oneOf(r, [0, 1, 48, 49], 'GS f n') % 48 }
      case 0x77: return { op: 'barcode-setting', name: 'module-width', n: range(r, 1, 6, 'GS w n') }
      case 0x68: return { op: 'barcode-setting', name: 'height', n: range(r, 1, 255, 'GS h n') }
      case 0x6b: { // GS k m n d1...dn (function B)
        const system = range(r, 65, 79, 'GS k m')
        const n = r.byte('GS k n')
        return { op: 'barcode', system, data: latin1(r.take(n, 'GS k data')) }
      }
      case 0x76: { // GS v 0 m xL xH yL yH d1...dk
        r.expect(0x30, 'GS v 0')
        oneOf(r, [0, 1, 2, 3, 48, 49, 50, 51], 'GS v 0 m')
        const x = r.byte('xL') + r.byte('xH') * 256
        const y = r.byte('yL') + r.byte('yH') * 256
        if (x === 0 || y === 0) throw new EscPosDecodeError(at, 'GS v 0: empty image')
        r.take(x * y, 'GS v 0 image data')
        return { op: 'image', widthDots: x * 8, height: y }
      }
    }
  }
  throw new EscPosDecodeError(at, `unknown command ${prefix === 0x1b ? 'ESC' : 'GS'} 0x${c.toString(16)}`)
}

/** GS ( k pL pH cn fn ...: only QR code (cn = 49) functions 065, 067, 069, 080, 081. */
function epsonExtended (r: Reader, at: number): Command {
  r.expect(0x6b, 'GS ( k')
  const length = r.byte('pL') + r.byte('pH') * 256
  const body = r.take(length, 'GS ( k parameters')
  if (body[0] !== 49) throw new EscPosDecodeError(at, `GS ( k: symbol ${body[0] ?? 'none'} is not QR (49)`)
  const fn = body[1]
  const expectLength = (n: number): void => {
    if (length !== n) throw new EscPosDecodeError(at, `GS ( k fn ${fn ?? 'none'}: length ${length}, expected ${n}`)
  }
  switch (fn) {
    case 65: expectLength(4); return { op: 'qr-model', model: (body[2] ?? 0) - 48 }
    case 67: expectLength(3); return { op: 'qr-size', size: body[2] ?? 0 }
    case 69: expectLength(3); return { op: 'qr-correction', level: CORRECTION[(body[2] ?? 0) - 48] ?? 'L' }
    case 80:
      if (body[2] !== 48) throw new EscPosDecodeError(at, 'GS ( k fn 80: m must be 48')
      return { op: 'qr-store', data: latin1(body.subarray(3)) }
    case 81: expectLength(3); return { op: 'qr-print' }
  }
  throw new EscPosDecodeError(at, `GS ( k: QR function ${fn ?? 'none'} is not in the subset`)
}

function starCommand (r: Reader): Command {
  const at = r.i
  const byte = r.peek() as number
  if (byte === 0x0b) { r.i++; return { op: 'feed', lines: 1 } } // VT
  if (byte === 0x07) { r.i++; return { op: 'drawer', pin: 1 } } // BEL fires drawer 1 (after ESC BEL)
  const simple = common(r, at)
  if (simple !== null) return simple
  if (r.byte('command') !== 0x1b) throw new EscPosDecodeError(at, 'GS is not a Star Line Mode command')
  const c = r.byte('command')
  switch (c) {
    case 0x40: return { op: 'init' }
    case 0x45: return { op: 'bold', on: true }
    case 0x46: return { op: 'bold', on: false }
    case 0x2d: return { op: 'underline', n: oneOf(r, [0, 1, 48, 49], 'ESC - n') % 48 }
    case 0x69: return { op: 'size', height: range(r, 0, 5, 'ESC i n1') + 1, width: range(r, 0, 5, 'ESC i n2') + 1 }
    case 0x64: return { op: 'cut', partial: oneOf(r, [0, 1, 2, 3, 48, 49, 50, 51], 'ESC d n') % 2 === 1 }
    case 0x07: return { op: 'drawer-pulse', on: r.byte('ESC BEL n1'), off: r.byte('ESC BEL n2') }
    case 0x30: return { op: 'line-spacing', n: 3 } // ESC 0: 1/8 inch, used around raster lines
    case 0x7a: oneOf(r, [0, 1], 'ESC z n'); return { op: 'line-spacing', n: 4 }
    case 0x62: { // ESC b n1 n2 n3 n4 d... RS
      const system = range(r, 0, 13, 'ESC b n1')
      range(r, 1, 4, 'ESC b n2')
      range(r, 1, 3, 'ESC b n3')
      const height = range(r, 1, 255, 'ESC b n4')
      const end = r.bytes.indexOf(0x1e, r.i)
      if (end === -1) throw new EscPosDecodeError(at, 'ESC b: no RS ends the data')
      const data = latin1(r.take(end - r.i, 'ESC b data'))
      r.i++
      return { op: 'barcode', system, data, height }
    }
    case 0x6b: { // ESC k n1 n2 d: one 24-dot raster line, n1 bytes wide
      const n1 = r.byte('ESC k n1')
      r.expect(0, 'ESC k n2')
      r.take(n1 * 24, 'ESC k data')
      return { op: 'image', widthDots: n1 * 8, height: 24 }
    }
    case 0x1d: return starGs(r, at)
  }
  throw new EscPosDecodeError(at, `unknown command ESC 0x${c.toString(16)}`)
}

function starGs (r: Reader, at: number): Command {
  const c = r.byte('ESC GS command')
  switch (c) {
    case 0x74: return { op: 'code-page', n: r.byte('ESC GS t n') }
    case 0x61: return { op: 'align', align: ALIGN[oneOf(r, [0, 1, 2, 48, 49, 50], 'ESC GS a n') % 48] as 'left' }
    case 0x07: { // ESC GS BEL m t1 t2: buzzer
      oneOf(r, [1, 2], 'ESC GS BEL m')
      range(r, 1, 255, 'ESC GS BEL t1')
      range(r, 1, 255, 'ESC GS BEL t2')
      return { op: 'beep', times: 1 }
    }
    case 0x79: { // ESC GS y: QR code
      const fn = r.byte('ESC GS y fn')
      if (fn === 0x53) {
        const which = oneOf(r, [0x30, 0x31, 0x32], 'ESC GS y S n')
        const n = r.byte('ESC GS y S value')
        if (which === 0x30) return { op: 'qr-model', model: n }
        if (which === 0x31) return { op: 'qr-correction', level: CORRECTION[n] ?? 'L' }
        return { op: 'qr-size', size: n }
      }
      if (fn === 0x44) {
        r.expect(0x31, 'ESC GS y D 1')
        r.expect(0x00, 'ESC GS y D 1 0')
        const n = r.byte('nL') + r.byte('nH') * 256
        return { op: 'qr-store', data: latin1(r.take(n, 'QR data')) }
      }
      if (fn === 0x50) return { op: 'qr-print' }
      throw new EscPosDecodeError(at, `ESC GS y 0x${fn.toString(16)} is not in the subset`)
    }
  }
  throw new EscPosDecodeError(at, `unknown command ESC GS 0x${c.toString(16)}`)
}

/** The text runs of decoded commands joined, with `lf` as `\n`. */
export function commandText (commands: readonly Command[]): string {
  return commands.map((c) => c.op === 'text' ? c.text : c.op === 'lf' ? '\n' : '').join('')
}
