/**
 * Turn printer bytes back into the text they print: commands are stepped over, line
 * feeds become `\n`, bytes 0x80-0xFF are read in the code page the stream selected.
 * Lenient on purpose for now (unknown commands are skipped, not reported), so a demo
 * shows what a ticket says; it is also what tests compare against.
 */
import { DEFAULT_CODE_PAGE, epsonCodePage, starCodePage, type CodePage } from './code-pages.js'
import { commandLength, ESC, GS, INCOMPLETE, isStarOnly, type CommandSet } from './escpos-commands.js'

/** Which command set to read; `auto` reads ESC/POS until a Star-only command shows up. */
export type CommandSetOption = CommandSet | 'auto'

const LF = 0x0a
const HT = 0x09
const FF = 0x0c

/** The printed text of `bytes`. */
export function decodeEscPosText (bytes: Uint8Array, commandSet: CommandSetOption = 'auto'): string {
  let set: CommandSet = commandSet === 'star' ? 'star' : 'epson'
  let page: CodePage = DEFAULT_CODE_PAGE
  let text = ''
  let i = 0
  while (i < bytes.length) {
    const byte = bytes[i] as number
    if (byte >= 0x20 && byte < 0x7f) {
      text += String.fromCharCode(byte)
      i++
      continue
    }
    if (byte >= 0x80) {
      text += page(byte)
      i++
      continue
    }
    if (byte === LF || byte === FF) text += '\n'
    else if (byte === HT) text += '\t'
    if (commandSet === 'auto' && isStarOnly(bytes, i)) set = 'star'
    const length = commandLength(bytes, i, set)
    if (length === INCOMPLETE) break
    page = selectedCodePage(bytes, i, set) ?? page
    i += length
  }
  return text
}

/** The code page a command at `i` selects, if it is a code page selection. */
function selectedCodePage (bytes: Uint8Array, i: number, set: CommandSet): CodePage | undefined {
  if (bytes[i] !== ESC) return undefined
  if (set === 'epson' && bytes[i + 1] === 0x74) return epsonCodePage(bytes[i + 2] ?? 0) // ESC t n
  if (set === 'star' && bytes[i + 1] === GS && bytes[i + 2] === 0x74) return starCodePage(bytes[i + 3] ?? 0) // ESC GS t n
  return undefined
}
