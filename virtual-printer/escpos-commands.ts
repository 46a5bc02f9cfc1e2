/**
 * Lengths of ESC/POS and Star Line Mode commands, so a reader can step over them.
 * Covers the commands restaurant tickets use (text style, code page, feed, cut, drawer,
 * beep, barcode, QR, raster image); an unknown `ESC x` / `GS x` / `FS x` is taken as two
 * bytes, which is right for most parameterless commands.
 *
 * Epson and Star disagree on a few commands (`ESC E` is `ESC E n` in ESC/POS, `ESC E`
 * alone in Star Line Mode; `ESC d n` feeds n lines on Epson and cuts on Star), hence
 * the command set argument.
 */

/** Which printer language to read. */
export type CommandSet = 'epson' | 'star'

export const ESC = 0x1b
export const GS = 0x1d
export const FS = 0x1c
export const DLE = 0x10
export const RS = 0x1e

/** Result for a command whose bytes have not all arrived yet. */
export const INCOMPLETE = -1

const EPSON_ESC_ONE_PARAM = new Set('!EGM-adJKetRVr{3 U=%T'.split('').map((c) => c.charCodeAt(0)))
const STAR_ESC_NO_PARAM = new Set('@EF45018'.split('').map((c) => c.charCodeAt(0)))
const GS_TWO_PARAMS = new Set('LWP$\\'.split('').map((c) => c.charCodeAt(0)))

function u16 (bytes: Uint8Array, at: number): number {
  return (bytes[at] ?? 0) + (bytes[at + 1] ?? 0) * 256
}

function needs (bytes: Uint8Array, i: number, length: number): number {
  return i + length <= bytes.length ? length : INCOMPLETE
}

function untilNul (bytes: Uint8Array, i: number, from: number): number {
  const end = bytes.indexOf(0, i + from)
  return end === -1 ? INCOMPLETE : end - i + 1
}

function escLength (bytes: Uint8Array, i: number, set: CommandSet): number {
  const c = bytes[i + 1]
  if (c === undefined) return INCOMPLETE
  if (c === GS || c === RS) return needs(bytes, i, 4) // Star ESC GS x n, ESC RS x n
  if (set === 'star') {
    if (STAR_ESC_NO_PARAM.has(c)) return 2
    if (c === 0x69 || c === 0x07) return needs(bytes, i, 4) // ESC i n1 n2 size, ESC BEL n1 n2 drawer
    return needs(bytes, i, 3)
  }
  switch (c) {
    case 0x40: case 0x32: case 0x69: case 0x6d: return 2 // @ 2 i m
    case 0x70: return needs(bytes, i, 5) // p m t1 t2: drawer pulse
    case 0x24: case 0x5c: return needs(bytes, i, 4) // $ \ nL nH: positions
    case 0x63: return needs(bytes, i, 4) // c x n
    case 0x44: return untilNul(bytes, i, 2) // D tab stops ... NUL
    case 0x2a: { // * m nL nH d...: bit image
      if (i + 4 >= bytes.length) return INCOMPLETE
      const m = bytes[i + 2] ?? 0
      return needs(bytes, i, 5 + u16(bytes, i + 3) * (m <= 1 ? 1 : 3))
    }
    default:
      return EPSON_ESC_ONE_PARAM.has(c) ? needs(bytes, i, 3) : 2
  }
}

function gsLength (bytes: Uint8Array, i: number): number {
  const c = bytes[i + 1]
  if (c === undefined) return INCOMPLETE
  switch (c) {
    case 0x56: { // V m [n]: cut
      const m = bytes[i + 2]
      if (m === undefined) return INCOMPLETE
      return needs(bytes, i, m <= 1 || m === 48 || m === 49 ? 3 : 4)
    }
    case 0x28: // ( fn pL pH data: extended commands (QR codes among them)
      return i + 4 >= bytes.length ? INCOMPLETE : needs(bytes, i, 5 + u16(bytes, i + 3))
    case 0x6b: { // k m ...: barcode
      const m = bytes[i + 2]
      if (m === undefined) return INCOMPLETE
      if (m <= 6) return untilNul(bytes, i, 3)
      const n = bytes[i + 3]
      return n === undefined ? INCOMPLETE : needs(bytes, i, 4 + n)
    }
    case 0x76: // v 0 m xL xH yL yH data: raster image
      return i + 7 >= bytes.length ? INCOMPLETE : needs(bytes, i, 8 + u16(bytes, i + 4) * u16(bytes, i + 6))
    case 0x38: { // 8 L p1..p4 data: large extended commands
      if (i + 6 >= bytes.length) return INCOMPLETE
      const size = (bytes[i + 3] ?? 0) + (bytes[i + 4] ?? 0) * 0x100 + (bytes[i + 5] ?? 0) * 0x10000 + (bytes[i + 6] ?? 0) * 0x1000000
      return needs(bytes, i, 7 + size)
    }
    case 0x2a: // * x y data: downloaded bit image
      return i + 3 >= bytes.length ? INCOMPLETE : needs(bytes, i, 4 + (bytes[i + 2] ?? 0) * (bytes[i + 3] ?? 0) * 8)
    default:
      return needs(bytes, i, GS_TWO_PARAMS.has(c) ? 4 : 3)
  }
}

function dleLength (bytes: Uint8Array, i: number): number {
  const c = bytes[i + 1]
  if (c === undefined) return INCOMPLETE
  if (c === 0x04 || c === 0x05) return needs(bytes, i, 3) // EOT n status, ENQ n
  if (c === 0x14) return needs(bytes, i, 5) // DC4 fn a b: real-time pulse / clear
  return 1
}

function fsLength (bytes: Uint8Array, i: number): number {
  const c = bytes[i + 1]
  if (c === undefined) return INCOMPLETE
  if (c === 0x2e || c === 0x26) return 2 // . & kanji mode off/on
  if (c === 0x70 || c === 0x53) return needs(bytes, i, 4) // p n m NV image, S n1 n2
  return needs(bytes, i, 3)
}

/**
 * Length in bytes of the command starting at `i` (which holds ESC, GS, DLE or FS),
 * or {@link INCOMPLETE} when the buffer ends before it does.
 */
export function commandLength (bytes: Uint8Array, i: number, set: CommandSet): number {
  switch (bytes[i]) {
    case ESC: return escLength(bytes, i, set)
    case GS: return gsLength(bytes, i)
    case DLE: return dleLength(bytes, i)
    case FS: return fsLength(bytes, i)
    default: return 1
  }
}

/** True when the command at `i` (of `length` bytes) cuts the paper. */
export function isCut (bytes: Uint8Array, i: number, length: number, set: CommandSet): boolean {
  const first = bytes[i]
  const second = bytes[i + 1]
  if (first === GS && second === 0x56) return true
  // Star Line Mode: ESC d n with n 0..3 cuts; on Epson it only feeds n lines.
  return set === 'star' && first === ESC && second === 0x64 && length === 3 && (bytes[i + 2] ?? 4) <= 3
}

/** True when the bytes at `i` begin a command only Star Line Mode uses (ESC GS / ESC RS). */
export function isStarOnly (bytes: Uint8Array, i: number): boolean {
  return bytes[i] === ESC && (bytes[i + 1] === GS || bytes[i + 1] === RS)
}
