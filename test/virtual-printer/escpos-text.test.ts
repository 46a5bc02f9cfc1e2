import t from 'tap'
import { decodeEscPosText } from '../../virtual-printer/escpos-text.js'

t.test('the decoder keeps text and line feeds and drops style commands', async (t) => {
  const bytes = Buffer.from([0x1b, 0x40, 0x1b, 0x61, 0x01, 0x1b, 0x45, 0x01, ...Buffer.from('BOLD'), 0x1b, 0x45, 0x00, 0x0a, 0x1d, 0x21, 0x11, ...Buffer.from('big'), 0x0a])
  t.equal(decodeEscPosText(bytes, 'epson'), 'BOLD\nbig\n')
})

t.test('the decoder reads bytes above 0x7f in code page 437 until another is selected', async (t) => {
  t.equal(decodeEscPosText(Buffer.from([0x82, 0x1b, 0x74, 16, 0x80, 0xe9]), 'epson'), 'é€é')
})

t.test('the decoder steps over a QR code and a raster image whose data contains control bytes', async (t) => {
  const qrData = Buffer.from([0x10, 0x04, 0x1b, 0x0a])
  const qr = [0x1d, 0x28, 0x6b, qrData.length + 3, 0, 0x31, 0x50, 0x30, ...qrData]
  const raster = [0x1d, 0x76, 0x30, 0x00, 2, 0, 1, 0, 0x0a, 0x1b]
  t.equal(decodeEscPosText(Buffer.from([...Buffer.from('a'), ...qr, ...raster, ...Buffer.from('b')]), 'epson'), 'ab')
})

t.test('the decoder switches to Star Line Mode when it sees a Star-only command', async (t) => {
  // ESC GS t 32 selects Windows-1252 on Star; ESC E is Star's bold on, without parameter.
  const bytes = Buffer.from([0x1b, 0x1d, 0x74, 32, 0x1b, 0x45, ...Buffer.from('Caf'), 0xe9, 0x1b, 0x46, 0x0a, 0x1b, 0x64, 0x02])
  t.equal(decodeEscPosText(bytes, 'auto'), 'Café\n')
})

t.test('the decoder stops at a command cut off by the end of the bytes', async (t) => {
  t.equal(decodeEscPosText(Buffer.from([...Buffer.from('end'), 0x1d, 0x28, 0x6b, 0x10]), 'epson'), 'end')
})
