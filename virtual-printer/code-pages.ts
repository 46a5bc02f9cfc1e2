/**
 * Code pages the virtual printer understands, selected by Epson `ESC t n` or Star
 * `ESC GS t n`. Bytes 0x80-0xFF of any other page decode to `?`.
 */

/** Upper half (0x80-0xFF) of IBM code page 437, the power-on default of most printers. */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0'

/** A code page: how to turn one byte >= 0x80 into text. */
export type CodePage = (byte: number) => string

const cp437: CodePage = (byte) => CP437_HIGH[byte - 0x80] ?? '?'

/**
 * 0x80-0x9F of Windows-1252; 0xA0-0xFF equal Latin-1. Spelled out because Node 20's
 * TextDecoder('windows-1252') decodes as Latin-1 and loses the euro sign.
 */
const CP1252_80_9F = '€\ufffd‚ƒ„…†‡ˆ‰Š‹Œ\ufffdŽ\ufffd\ufffd‘’“”•–—˜™š›œ\ufffdžŸ'
const cp1252: CodePage = (byte) => byte < 0xa0 ? (CP1252_80_9F[byte - 0x80] ?? '?') : String.fromCharCode(byte)

function whatwg (label: string): CodePage {
  const decoder = new TextDecoder(label)
  const table = Array.from({ length: 128 }, (_, i) => decoder.decode(Uint8Array.of(0x80 + i)))
  return (byte) => table[byte - 0x80] ?? '?'
}

const unknown: CodePage = () => '?'

/** The power-on code page. */
export const DEFAULT_CODE_PAGE: CodePage = cp437

const EPSON_PAGES: ReadonlyMap<number, () => CodePage> = new Map([
  [0, () => cp437], [16, () => cp1252], [17, () => whatwg('ibm866')],
  [45, () => whatwg('windows-1250')], [46, () => whatwg('windows-1251')], [47, () => whatwg('windows-1253')],
  [48, () => whatwg('windows-1254')], [49, () => whatwg('windows-1255')], [50, () => whatwg('windows-1256')],
  [51, () => whatwg('windows-1257')], [52, () => whatwg('windows-1258')]
])

const STAR_PAGES: ReadonlyMap<number, () => CodePage> = new Map([
  [0, () => cp437], [1, () => cp437], [3, () => cp437], [10, () => whatwg('ibm866')],
  [32, () => cp1252], [33, () => whatwg('windows-1250')], [34, () => whatwg('windows-1251')]
])

/** The page Epson `ESC t n` selects. */
export function epsonCodePage (n: number): CodePage {
  return EPSON_PAGES.get(n)?.() ?? unknown
}

/** The page Star `ESC GS t n` selects. */
export function starCodePage (n: number): CodePage {
  return STAR_PAGES.get(n)?.() ?? unknown
}
