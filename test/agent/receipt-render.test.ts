import t from 'tap'
import { renderDocument } from '../../agent/printers/render.js'
import type { ReceiptContent } from '../../shared/messages.js'
import { decodeCommands, type Command } from '../../virtual-printer/escpos-decoder.js'
import { greyPng } from './helpers/png.js'

const png = greyPng(16, 4, (x) => x < 8).toString('base64')
const receipt: ReceiptContent = {
  type: 'receipt',
  blocks: [
    { type: 'text', text: 'Café Nord', align: 'center', bold: true, width: 2, height: 2 },
    { type: 'text', text: 'Table 7', underline: true },
    { type: 'columns', columns: [{ text: '2x Soup' }, { text: '€9,00' }] },
    { type: 'columns', columns: [{ text: 'Bread', width: 10 }, { text: '1', align: 'center', width: 3 }, { text: '2,50' }] },
    { type: 'divider' },
    { type: 'qr', data: 'https://e.x/1' },
    { type: 'barcode', symbology: 'code128', data: 'A-1042' },
    { type: 'image', png },
    { type: 'feed', lines: 2 },
    { type: 'drawer' },
    { type: 'beep', times: 2 }
  ]
}

const left: Command = { op: 'align', align: 'left' }
const center: Command = { op: 'align', align: 'center' }
const lf: Command = { op: 'lf' }
const text = (value: string): Command => ({ op: 'text', text: value })
const body = (title: readonly Command[], qr: readonly Command[], barcode: readonly Command[], image: readonly Command[]): Command[] => [
  center, { op: 'bold', on: true }, title[0] as Command, text('Café Nord'), lf, title[1] as Command, { op: 'bold', on: false }, left,
  left, { op: 'underline', n: 1 }, text('Table 7'), lf, { op: 'underline', n: 0 }, left,
  text('2x Soup                    €9,00'), lf,
  text('Bread       1               2,50'), lf,
  text('-'.repeat(32)), lf,
  center, ...qr, { op: 'qr-store', data: 'https://e.x/1' }, { op: 'qr-print' }, lf, left,
  center, ...barcode, lf, left,
  center, ...image, left,
  lf, lf
]

t.test('an epson receipt decodes strictly into the commands of each block', async (t) => {
  const bytes = await renderDocument(receipt, { model: 'epson', width: 32 })
  t.same(decodeCommands(bytes, 'epson'), [
    { op: 'code-page', n: 16 },
    ...body(
      [{ op: 'size', width: 2, height: 2 }, { op: 'size', width: 1, height: 1 }],
      [{ op: 'qr-model', model: 2 }, { op: 'qr-size', size: 4 }, { op: 'qr-correction', level: 'M' }],
      [
        { op: 'barcode-setting', name: 'hri-position', n: 2 }, { op: 'barcode-setting', name: 'hri-font', n: 0 },
        { op: 'barcode-setting', name: 'module-width', n: 2 }, { op: 'barcode-setting', name: 'height', n: 80 },
        { op: 'barcode', system: 73, data: '{BA-1042' }
      ],
      [{ op: 'image', widthDots: 16, height: 4 }, lf]
    ),
    { op: 'drawer', pin: 2 }, { op: 'beep', times: 1 }, { op: 'beep', times: 1 },
    { op: 'feed', lines: 4 }, { op: 'feed', lines: 4 }, { op: 'cut', partial: false }, { op: 'init' }
  ])
})

t.test('a star receipt decodes strictly into Star Line Mode commands', async (t) => {
  const bytes = await renderDocument(receipt, { model: 'star', width: 32 })
  t.same(decodeCommands(bytes, 'star'), [
    { op: 'code-page', n: 32 },
    ...body(
      [{ op: 'size', height: 2, width: 2 }, { op: 'size', height: 1, width: 1 }],
      [{ op: 'qr-model', model: 2 }, { op: 'qr-correction', level: 'M' }, { op: 'qr-size', size: 4 }],
      [{ op: 'barcode', system: 6, data: 'A-1042', height: 80 }],
      [{ op: 'line-spacing', n: 3 }, { op: 'image', widthDots: 16, height: 24 }, lf, { op: 'line-spacing', n: 4 }]
    ),
    { op: 'drawer-pulse', on: 11, off: 55 }, { op: 'drawer', pin: 1 }, { op: 'beep', times: 1 }, { op: 'beep', times: 1 },
    { op: 'feed', lines: 1 }, { op: 'feed', lines: 1 }, { op: 'cut', partial: false }, { op: 'init' }
  ])
})

t.test('a receipt whose last block is a partial cut gets no second cut', async (t) => {
  const bytes = await renderDocument({ type: 'receipt', blocks: [{ type: 'text', text: 'x' }, { type: 'cut', partial: true }] }, { model: 'epson', width: 42 })
  const commands = decodeCommands(bytes, 'epson')
  t.same(commands.filter((c) => c.op === 'cut'), [{ op: 'cut', partial: true }])
  // After the last cut only node-thermal-printer's reset (ESC @): a code page selected
  // there would make a printer (or the virtual printer) that splits jobs at cuts see an
  // extra, empty one.
  const afterCut = commands.slice(commands.findLastIndex((c) => c.op === 'cut') + 1)
  t.same(afterCut, [{ op: 'init' }], 'only the reset follows the last cut')
})

t.test('a cut between blocks re-selects the code page for what follows', async (t) => {
  const bytes = await renderDocument({ type: 'receipt', blocks: [{ type: 'text', text: 'x' }, { type: 'cut' }, { type: 'text', text: 'y' }] }, { model: 'epson', width: 42, codePage: 'cp858' })
  const commands = decodeCommands(bytes, 'epson')
  const cut = commands.findIndex((c) => c.op === 'cut')
  t.ok(commands.slice(cut + 1).some((c) => c.op === 'code-page'), 'code page selected again after the first cut')
})

t.test('the printer code page selects the page and encodes text in it', async (t) => {
  const bytes = await renderDocument({ type: 'text', text: 'Борщ' }, { model: 'epson', width: 42, codePage: 'cp866' })
  t.same(decodeCommands(bytes, 'epson').slice(0, 3), [{ op: 'code-page', n: 17 }, text('Борщ'), lf])
})

t.test('text wider than one character is wrapped to the characters that fit', async (t) => {
  const bytes = await renderDocument({ type: 'receipt', blocks: [{ type: 'text', text: 'ORDER 1042 READY', width: 2 }] }, { model: 'epson', width: 20 })
  const texts = decodeCommands(bytes, 'epson').filter((c) => c.op === 'text')
  t.same(texts, [text('ORDER 1042'), text('READY')])
})

t.test('a raw document passes through byte for byte', async (t) => {
  const raw = Buffer.from([0x1b, 0x40, 0x41, 0x0a, 0x1d, 0x56, 0x00, 0xff])
  t.same(await renderDocument({ type: 'raw', data: raw.toString('base64') }, { model: 'star', width: 42 }), raw)
})

t.test('an image wider than the paper and a non-PNG image are refused', async (t) => {
  const wide = greyPng(400, 2, () => true).toString('base64')
  await t.rejects(renderDocument({ type: 'receipt', blocks: [{ type: 'image', png: wide }] }, { model: 'epson', width: 32 }), { code: 'PRINTMQ_AGENT_RENDER', message: /400 dots wide, the paper 384/ })
  await t.rejects(renderDocument({ type: 'receipt', blocks: [{ type: 'image', png: Buffer.from('GIF89a........................').toString('base64') }] }, { model: 'epson', width: 32 }), { code: 'PRINTMQ_AGENT_RENDER', message: /not a PNG/ })
})

t.test('columns that do not fit the paper are refused', async (t) => {
  await t.rejects(renderDocument({ type: 'receipt', blocks: [{ type: 'columns', columns: [{ text: 'a', width: 20 }, { text: 'b', width: 20 }] }] }, { model: 'epson', width: 32 }), { code: 'PRINTMQ_AGENT_RENDER' })
})
