/**
 * The printer code page for each `codePage` name of a printer config, as
 * node-thermal-printer names it. node-thermal-printer selects it at the start of every
 * document (Epson `ESC t n`, Star `ESC GS t n`) and encodes text through iconv-lite.
 */
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
