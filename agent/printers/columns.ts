/**
 * Lays out a two- or three-column line in a fixed number of characters: cells with a
 * `width` get it, the others share the rest; one space separates cells; a cell too
 * long for its width wraps onto further lines (kitchen item names do get long).
 */
import type { Align } from '../../shared/messages.js'
import { RenderError } from '../errors.js'

/** One cell to lay out. */
export interface Cell {
  readonly text: string
  readonly align?: Align
  readonly width?: number
}

/** Characters between two cells. */
export const GAP = 1

/** The lines (at most `lineWidth` characters each) that print `cells` side by side. */
export function layoutColumns (cells: readonly Cell[], lineWidth: number): string[] {
  const widths = cellWidths(cells, lineWidth)
  const wrapped = cells.map((cell, i) => wrapText(cell.text, widths[i] as number))
  const rows = Math.max(...wrapped.map((lines) => lines.length))
  const lines: string[] = []
  for (let row = 0; row < rows; row++) {
    const parts = cells.map((cell, i) => pad(wrapped[i]?.[row] ?? '', widths[i] as number, cell.align ?? defaultCellAlign(i, cells.length)))
    lines.push(parts.join(' '.repeat(GAP)))
  }
  return lines
}

/** Characters each cell gets in a line of `lineWidth`; throws {@link RenderError} when they do not fit. */
export function cellWidths (cells: readonly Cell[], lineWidth: number): number[] {
  const available = lineWidth - GAP * (cells.length - 1)
  const fixed = cells.reduce((sum, cell) => sum + (cell.width ?? 0), 0)
  const flexible = cells.filter((cell) => cell.width === undefined).length
  const rest = available - fixed
  if (rest < flexible) {
    throw new RenderError(`columns need ${fixed + flexible + GAP * (cells.length - 1)} characters, the paper has ${lineWidth}`)
  }
  let remainder = flexible === 0 ? 0 : rest % flexible
  return cells.map((cell) => {
    if (cell.width !== undefined) return cell.width
    const extra = remainder > 0 ? 1 : 0
    remainder -= extra
    return Math.floor(rest / flexible) + extra
  })
}

/** `text` broken into lines of at most `width` characters, at spaces where possible. */
export function wrapText (text: string, width: number): string[] {
  const lines: string[] = []
  for (const paragraph of text.split('\n')) {
    let line = ''
    for (const word of paragraph.split(' ')) {
      let rest = word
      while (rest.length > width) {
        if (line !== '') { lines.push(line); line = '' }
        lines.push(rest.slice(0, width))
        rest = rest.slice(width)
      }
      if (line === '') line = rest
      else if (line.length + 1 + rest.length <= width) line += ' ' + rest
      else { lines.push(line); line = rest }
    }
    lines.push(line)
  }
  return lines
}

/** The last of several cells is right-aligned (prices), the others left-aligned. */
export function defaultCellAlign (index: number, count: number): Align {
  return index === count - 1 && count > 1 ? 'right' : 'left'
}

function pad (text: string, width: number, align: Align): string {
  const space = width - text.length
  if (align === 'right') return ' '.repeat(space) + text
  if (align === 'center') return ' '.repeat(Math.floor(space / 2)) + text + ' '.repeat(space - Math.floor(space / 2))
  return text + ' '.repeat(space)
}
