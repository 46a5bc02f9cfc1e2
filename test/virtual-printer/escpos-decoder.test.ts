import t from 'tap'
import receiptline from 'receiptline'
import { decodeCommands } from '../../virtual-printer/escpos-decoder.js'

const escpos = receiptline.commands.escpos
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

t.test('the decoder reads commands that receiptline encodes, one by one', async (t) => {
  const stream = bytes(
    escpos.align(1) + escpos.em() + escpos.text('Bold', 'cp437') + escpos.lf() +
    escpos.normal().replace('\x1c-0', '').replace('\x1dB0', '') + escpos.wh(3) + escpos.text('Big', 'cp437') + escpos.lf() +
    escpos.cut()
  )
  t.same(decodeCommands(stream, 'epson'), [
    { op: 'align', align: 'center' },
    { op: 'bold', on: true },
    { op: 'code-page', n: 0 },
    { op: 'text', text: 'Bold' },
    { op: 'lf' },
    { op: 'underline', n: 0 },
    { op: 'bold', on: false },
    { op: 'size', width: 1, height: 1 },
    { op: 'size', width: 2, height: 2 },
    { op: 'code-page', n: 0 },
    { op: 'text', text: 'Big' },
    { op: 'lf' },
    // GS V 66 0: feed, then partial cut (ESC/POS GS V function B).
    { op: 'cut', partial: true }
  ])
})

t.test('the decoder reads a barcode out of a whole receiptline document', async (t) => {
  const document = bytes(receiptline.transform('{code:1234567890128; option:ean,hri}\n', { command: 'escpos', cpl: 42, encoding: 'cp437' }))
  const start = document.indexOf(bytes('\x1dw'))
  const barcodeAt = document.indexOf(bytes('\x1dk'), start)
  const end = barcodeAt + 4 + (document[barcodeAt + 3] ?? 0)
  t.same(decodeCommands(document.subarray(start, end), 'epson'), [
    { op: 'barcode-setting', name: 'module-width', n: 2 },
    { op: 'barcode-setting', name: 'height', n: 72 },
    { op: 'barcode-setting', name: 'hri-position', n: 2 },
    { op: 'barcode', system: 67, data: '123456789012' }
  ])
})

t.test('the decoder rejects a receiptline document at its first command outside the subset', async (t) => {
  const document = bytes(receiptline.transform('Table 4\n', { command: 'escpos', cpl: 42, encoding: 'cp437' }))
  t.throws(() => decodeCommands(document, 'epson'), { name: 'EscPosDecodeError', offset: 2, message: /unknown command GS 0x61/ })
})

t.test('the decoder rejects a drawer pulse missing its pulse times', async (t) => {
  // node-thermal-printer's Epson openCashDrawer(): ESC p 0, ESC p 1 (t1 t2 missing).
  t.throws(() => decodeCommands(Buffer.from([0x1b, 0x70, 0x00, 0x1b, 0x70, 0x01]), 'epson'), /byte 5: unexpected control byte 0x1/)
})

t.test('the decoder rejects truncated commands and stray control bytes', async (t) => {
  t.throws(() => decodeCommands(Buffer.from([0x1d, 0x56]), 'epson'), /stream ends inside GS V m/)
  t.throws(() => decodeCommands(Buffer.from([0x41, 0x01]), 'epson'), /byte 1: unexpected control byte 0x1/)
  t.throws(() => decodeCommands(Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x33, 0x01]), 'star'), /ESC GS y S n/)
  t.throws(() => decodeCommands(Buffer.from([0x1d, 0x56, 0x00]), 'star'), /GS is not a Star Line Mode command/)
})

t.test('the decoder reads text in the selected code page', async (t) => {
  t.same(decodeCommands(Buffer.from([0x1b, 0x74, 16, 0x80, 0x41, 0x0a]), 'epson'), [
    { op: 'code-page', n: 16 }, { op: 'text', text: '€A' }, { op: 'lf' }
  ])
  t.same(decodeCommands(Buffer.from([0x1b, 0x1d, 0x74, 32, 0x80, 0x1b, 0x64, 0x03]), 'star'), [
    { op: 'code-page', n: 32 }, { op: 'text', text: '€' }, { op: 'cut', partial: true }
  ])
})
