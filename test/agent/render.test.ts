import t from 'tap'
import { renderDocument } from '../../agent/printers/render.js'
import { decodeEscPosText } from '../../virtual-printer/escpos-text.js'

const content = { type: 'text' as const, text: 'Table 4\n2x Soup €4,50\nCafé' }

t.test('epson rendering contains the text and ends with a full cut', async (t) => {
  const bytes = await renderDocument(content, { model: 'epson', width: 42 })
  t.ok(bytes.includes(Buffer.from('Table 4\n2x Soup ')), 'plain ASCII passes through')
  const cut = bytes.indexOf(Buffer.from([0x1d, 0x56, 0x00]))
  t.ok(cut > 0, 'GS V 0 cuts the paper')
  t.ok(cut > bytes.indexOf(Buffer.from('Table 4')), 'the cut comes after the text')
  t.equal(decodeEscPosText(bytes, 'epson'), 'Table 4\n2x Soup €4,50\nCafé\n')
})

t.test('star rendering contains the text and ends with a Star cut', async (t) => {
  const bytes = await renderDocument(content, { model: 'star', width: 42 })
  t.ok(bytes.includes(Buffer.from('Table 4\n2x Soup ')))
  t.ok(bytes.includes(Buffer.from([0x1b, 0x64, 0x02])), 'ESC d 2 cuts the paper in Star Line Mode')
  t.notOk(bytes.includes(Buffer.from([0x1d, 0x56])), 'no ESC/POS cut in Star output')
  t.equal(decodeEscPosText(bytes, 'star'), 'Table 4\n2x Soup €4,50\nCafé\n')
})

t.test('rendering wraps lines longer than the paper width', async (t) => {
  const long = 'word '.repeat(20).trim()
  const text = decodeEscPosText(await renderDocument({ type: 'text', text: long }, { model: 'epson', width: 20 }), 'epson')
  t.ok(text.split('\n').every((line) => line.length <= 20), text)
})

t.test('rendering refuses a content type it does not know', async (t) => {
  await t.rejects(renderDocument({ type: 'pdf' } as never, { model: 'epson', width: 42 }), { code: 'PRINTMQ_AGENT_RENDER' })
})
