/**
 * The printer code page for each `codePage` name of a printer config, as
 * node-thermal-printer names it. node-thermal-printer selects it at the start of every
 * document (Epson `ESC t n`, Star `ESC GS t n`) and encodes text through iconv-lite.
 *
 * {@link canEncode} asks the same iconv-lite (node-thermal-printer's own dependency)
 * whether text fits the page; text that does not is printed as an image
 * (complex-script.ts), never left to node-thermal-printer, which would silently switch
 * to another code page the printer may number differently, or print `?`.
 */
import iconv from 'iconv-lite'
import { CharacterSet } from 'node-thermal-printer'
import type { CodePageName } from '../../shared/messages.js'

/** Default code page: Windows-1252 covers Western European text and the euro sign. */
export const DEFAULT_CODE_PAGE: CodePageName = 'cp1252'

const CHARACTER_SETS: Readonly<Record<CodePageName, CharacterSet>> = Object.freeze({
  cp437: CharacterSet.PC437_USA,
  cp850: CharacterSet.PC850_MULTILINGUAL,
  cp858: CharacterSet.PC858_EURO,
  cp866: CharacterSet.PC866_CYRILLIC2,
  cp1250: CharacterSet.WPC1250_LATIN2,
  cp1251: CharacterSet.WPC1251_CYRILLIC,
  cp1252: CharacterSet.WPC1252
})

/** node-thermal-printer's character set for a code page name. */
export function characterSetFor (codePage: CodePageName | undefined): CharacterSet {
  return CHARACTER_SETS[codePage ?? DEFAULT_CODE_PAGE]
}

/** iconv-lite's name of each code page (node-thermal-printer's CODE_PAGES table). */
const ICONV_NAMES: Readonly<Record<CodePageName, string>> = Object.freeze({
  cp437: 'CP437',
  cp850: 'CP850',
  cp858: 'CP858',
  cp866: 'CP866',
  cp1250: 'WIN1250',
  cp1251: 'WIN1251',
  cp1252: 'CP1252'
})

const encodable = new Map<CodePageName, Map<string, boolean>>()

/** Whether every character of `text` is in the code page (ASCII always is). */
export function canEncode (text: string, codePage: CodePageName | undefined): boolean {
  const page = codePage ?? DEFAULT_CODE_PAGE
  let known = encodable.get(page)
  if (known === undefined) encodable.set(page, known = new Map())
  for (const char of text) {
    if (char.charCodeAt(0) < 0x80) continue
    let ok = known.get(char)
    if (ok === undefined) {
      // iconv-lite writes `?` for a character the page lacks.
      const bytes = iconv.encode(char, ICONV_NAMES[page])
      ok = !(bytes.length === 1 && bytes[0] === 0x3f)
      if (known.size < 4096) known.set(char, ok)
    }
    if (!ok) return false
  }
  return true
}
