/**
 * Text the printer cannot print from its code page (Arabic, Hebrew, other scripts, or
 * just characters outside the page) goes to paper as a raster image; everything else
 * stays printer text. Rendered bytes are decoded strictly, and the raster bits are read
 * back out of the `GS v 0` commands to check where the ink is.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Agent } from '../../agent/agent.js'
import { isRightToLeft, needsImage, textRaster, columnsRaster, FONTS_VARIABLE, type Raster } from '../../agent/printers/complex-script.js'
import { renderDocument } from '../../agent/printers/render.js'
import { createLicenseKey } from '../../shared/license.js'
import type { ReceiptContent } from '../../shared/messages.js'
import { decodeCommands, type Command } from '../../virtual-printer/escpos-decoder.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { connectObserver, printJob, startBroker, tcpPrinter, testLogger } from './helpers/mqtt-fixture.js'

/** The `GS v 0` images of Epson bytes, as rasters (1: black). */
function epsonRasters (bytes: Buffer): Raster[] {
  const rasters: Raster[] = []
  let i = 0
  for (;;) {
    i = bytes.indexOf(Buffer.from([0x1d, 0x76, 0x30]), i)
    if (i === -1) return rasters
    const widthBytes = (bytes[i + 4] as number) + (bytes[i + 5] as number) * 256
    const height = (bytes[i + 6] as number) + (bytes[i + 7] as number) * 256
    const data = bytes.subarray(i + 8, i + 8 + widthBytes * height)
    const dots = new Uint8Array(widthBytes * 8 * height)
    for (let b = 0; b < data.length; b++) {
      for (let bit = 0; bit < 8; bit++) dots[b * 8 + bit] = ((data[b] as number) >> (7 - bit)) & 1
    }
    rasters.push({ width: widthBytes * 8, height, dots })
    i += 8 + data.length
  }
}

/** Leftmost and rightmost column with ink between columns `from` and `to` (all when unset). */
function inkColumns (raster: Raster, from = 0, to = raster.width): { min: number, max: number, count: number } {
  let min = Infinity
  let max = -Infinity
  let count = 0
  for (let y = 0; y < raster.height; y++) {
    for (let x = from; x < to; x++) {
      if (raster.dots[y * raster.width + x] !== 1) continue
      count++
      min = Math.min(min, x)
      max = Math.max(max, x)
    }
  }
  return { min, max, count }
}

/** Rows with ink, as a set of row numbers. */
function inkRows (raster: Raster): number[] {
  const rows: number[] = []
  for (let y = 0; y < raster.height; y++) {
    if (raster.dots.subarray(y * raster.width, (y + 1) * raster.width).includes(1)) rows.push(y)
  }
  return rows
}

const left: Command = { op: 'align', align: 'left' }
const lf: Command = { op: 'lf' }
const text = (value: string): Command => ({ op: 'text', text: value })

const kitchenTicket: ReceiptContent = {
  type: 'receipt',
  blocks: [
    { type: 'text', text: 'مطبخ - طاولة ٧', align: 'center', bold: true },
    { type: 'text', text: 'Order 1042' },
    { type: 'columns', columns: [{ text: 'شاورما دجاج' }, { text: '2', align: 'center', width: 3 }, { text: '12.50' }] },
    { type: 'columns', columns: [{ text: 'Soup' }, { text: '1', align: 'center', width: 3 }, { text: '4.50' }] },
    { type: 'text', text: 'بدون بصل' },
    { type: 'divider' }
  ]
}

t.test('detection: scripts that need shaping or bidi, and characters outside the code page', async (t) => {
  t.ok(needsImage('شاورما', 'cp1252'), 'Arabic')
  t.ok(needsImage('2x کباب کوبیده', undefined), 'Persian')
  t.ok(needsImage('چکن کڑاہی', 'cp1252'), 'Urdu')
  t.ok(needsImage('שלום', 'cp1252'), 'Hebrew')
  t.ok(needsImage('ผัดไทย', 'cp1252'), 'Thai')
  t.ok(needsImage('a\u200fb', 'cp1252'), 'a bidi control')
  t.ok(needsImage('拉面', 'cp1252'), 'CJK: no code page has it')
  t.ok(needsImage('Ωμέγα', 'cp1252'), 'Greek is not in cp1252')
  t.ok(needsImage('€5', 'cp437'), 'cp437 has no euro sign')
  t.notOk(needsImage('€5', 'cp858'), 'cp858 does')
  t.notOk(needsImage('Café Crème 2x €4,50', 'cp1252'), 'Western European text in cp1252')
  t.notOk(needsImage('Борщ', 'cp866'), 'Cyrillic in cp866')
  t.notOk(needsImage('Table 7, 2x Soup', undefined), 'ASCII')

  t.ok(isRightToLeft('شاورما 2x'), 'first strong character Arabic')
  t.ok(isRightToLeft('12 שלום'), 'digits are not strong')
  t.notOk(isRightToLeft('2x شاورما'), 'first strong character Latin')
  t.notOk(isRightToLeft('\u200eشاورما'), 'an explicit LRM')
})

t.test('an epson receipt draws its Arabic blocks as raster images and keeps Latin blocks as text', async (t) => {
  const bytes = await renderDocument(kitchenTicket, { model: 'epson', width: 48 })
  t.same(decodeCommands(bytes, 'epson'), [
    { op: 'code-page', n: 16 },
    { op: 'image', widthDots: 576, height: 36 },
    left, text('Order 1042'), lf, left,
    { op: 'image', widthDots: 576, height: 36 },
    text('Soup' + ' '.repeat(20) + '1' + ' '.repeat(19) + '4.50'), lf,
    { op: 'image', widthDots: 576, height: 36 },
    text('-'.repeat(48)), lf,
    { op: 'feed', lines: 4 }, { op: 'feed', lines: 4 }, { op: 'cut', partial: false }, { op: 'init' }
  ])
  t.notOk(bytes.includes(Buffer.from([0x1b, 0x74, 50])), 'no switch to the Arabic code page')
  const rasters = epsonRasters(bytes)
  t.equal(rasters.length, 3)
  for (const raster of rasters) t.ok(inkColumns(raster).count > 200, 'each image has ink')
  const [title, item, note] = rasters as [Raster, Raster, Raster]
  const titleInk = inkColumns(title)
  t.ok(Math.abs((titleInk.min + titleInk.max) / 2 - 288) <= 6, `centered title (ink ${titleInk.min}-${titleInk.max})`)
  const noteInk = inkColumns(note)
  t.ok(noteInk.min > 400 && noteInk.max >= 570, `right-to-left text is right-aligned by default (ink ${noteInk.min}-${noteInk.max})`)

  // Column boxes as the text layout has them: item 0-22 (0-264 dots), quantity 23-25
  // (276-312), price 27-47 (324-576), the price right-aligned, like "Soup ... 4.50".
  const name = inkColumns(item, 0, 270)
  const quantity = inkColumns(item, 270, 318)
  const price = inkColumns(item, 318, 576)
  t.ok(name.count > 100 && name.max >= 255 && name.max < 264, `the Arabic item name ends at its box's right edge (ink ${name.min}-${name.max})`)
  t.ok(quantity.count > 10 && quantity.min > 282 && quantity.max < 306, `the quantity is centered in its box (ink ${quantity.min}-${quantity.max})`)
  t.ok(price.count > 10 && price.max >= 568 && price.min > 500, `the price is right-aligned at the paper's edge (ink ${price.min}-${price.max})`)
})

t.test('alignment: left, center and right put the ink where they say', async (t) => {
  const place = async (align: 'left' | 'center' | 'right'): Promise<{ min: number, max: number }> =>
    inkColumns(await textRaster('كباب', { align }, 384))
  const l = await place('left')
  const c = await place('center')
  const r = await place('right')
  t.ok(l.min <= 2 && l.max < 100, `left: ${l.min}-${l.max}`)
  t.ok(r.min > 284 && r.max >= 381, `right: ${r.min}-${r.max}`)
  t.ok(Math.abs((c.min + c.max) / 2 - 192) <= 3, `center: ${c.min}-${c.max}`)
  const latinFirst = inkColumns(await textRaster('2x كباب', {}, 384))
  t.ok(latinFirst.min <= 2, 'a paragraph starting with a Latin letter is left-to-right, left-aligned')
})

t.test('size, bold, wrapping and the image limits', async (t) => {
  const normal = await textRaster('شاورما', {}, 576)
  const big = await textRaster('شاورما', { width: 2, height: 2 }, 576)
  const wide = await textRaster('شاورما', { width: 2 }, 576)
  const bold = await textRaster('شاورما', { bold: true }, 576)
  t.same([normal.width, normal.height, big.height, wide.height], [576, 36, 72, 36])
  const n = inkColumns(normal)
  const b = inkColumns(big)
  const w = inkColumns(wide)
  t.ok(Math.abs((b.max - b.min) / (n.max - n.min) - 2) < 0.25, 'double size is twice as wide')
  t.ok(Math.abs((w.max - w.min) / (n.max - n.min) - 2) < 0.25, 'double width is twice as wide')
  t.ok(inkRows(big).length > 1.6 * inkRows(normal).length, 'double height is taller')
  t.ok(inkColumns(bold).count > 1.15 * n.count, 'bold has more ink')

  const long = await textRaster('شاورما دجاج مع صلصة الثوم والمخللات والبطاطا المقلية وخبز عربي طازج إضافي', {}, 384)
  t.ok(long.height >= 72 && long.height % 36 === 0, `a long paragraph wraps onto ${long.height / 36} lines`)
  for (let row = 0; row < long.height / 36; row++) {
    const line: Raster = { width: long.width, height: 36, dots: long.dots.subarray(row * 36 * 384, (row + 1) * 36 * 384) }
    const ink = inkColumns(line)
    t.ok(ink.count > 0 && ink.max >= 380, `line ${row + 1} has ink and is right-aligned`)
  }
  const columns = await columnsRaster([{ text: 'شاورما دجاج مع صلصة الثوم والمخللات', width: 12 }, { text: '9.00' }], 32, false, 384)
  t.ok(columns.height >= 72, 'a long item name wraps inside its column box')
  t.equal(inkColumns(columns, 144, 156).count, 0, 'and leaves the gap between the columns empty')

  await t.rejects(renderDocument({ type: 'receipt', blocks: [{ type: 'text', text: 'كباب\n'.repeat(12).trim(), height: 6 }] }, { model: 'epson', width: 32 }),
    { code: 'PRINTMQ_AGENT_RENDER', message: /2592 dots high/ })
})

t.test('a star receipt sends the image as 24-dot bands', async (t) => {
  const bytes = await renderDocument({ type: 'receipt', blocks: [{ type: 'text', text: 'طاولة ٧' }, { type: 'text', text: 'Table 7' }] }, { model: 'star', width: 32 })
  const band: Command = { op: 'image', widthDots: 384, height: 24 }
  t.same(decodeCommands(bytes, 'star'), [
    { op: 'code-page', n: 32 },
    { op: 'line-spacing', n: 3 }, band, lf, band, lf, { op: 'line-spacing', n: 4 },
    left, text('Table 7'), lf, left,
    { op: 'feed', lines: 1 }, { op: 'feed', lines: 1 }, { op: 'cut', partial: false }, { op: 'init' }
  ])
})

t.test('a text document prints each run of lines it cannot encode as one image', async (t) => {
  const bytes = await renderDocument({ type: 'text', text: 'Table 4\nكباب\nشاورما\nΩμέγα\nend' }, { model: 'epson', width: 32 })
  t.same(decodeCommands(bytes, 'epson'), [
    { op: 'code-page', n: 16 },
    text('Table 4'), lf,
    { op: 'image', widthDots: 384, height: 108 },
    text('end'), lf,
    { op: 'feed', lines: 4 }, { op: 'feed', lines: 4 }, { op: 'cut', partial: false }, { op: 'init' }
  ])
  const [image] = epsonRasters(bytes)
  t.same(image === undefined ? [] : [0, 1, 2].map((row) => inkColumns({ width: 384, height: 36, dots: image.dots.subarray(row * 36 * 384, (row + 1) * 36 * 384) }).count > 50), [true, true, true], 'three drawn lines')
  const same = await renderDocument({ type: 'text', text: 'Ωμέγα' }, { model: 'epson', width: 32, codePage: 'cp437' })
  t.ok(decodeCommands(same, 'epson').some((c) => c.op === 'image'), 'Greek with accents is not in cp437 either')
})

t.test('a missing font named in PRINTMQ_FONTS fails the rendering with the variable named', async (t) => {
  const before = process.env[FONTS_VARIABLE]
  process.env[FONTS_VARIABLE] = '/nonexistent/NotoSansThai.ttf'
  t.teardown(() => { if (before === undefined) delete process.env[FONTS_VARIABLE]; else process.env[FONTS_VARIABLE] = before })
  await t.rejects(renderDocument({ type: 'text', text: 'ผัดไทย' }, { model: 'epson', width: 32 }), { code: 'PRINTMQ_AGENT_RENDER', message: /PRINTMQ_FONTS: \/nonexistent\/NotoSansThai.ttf/ })
  process.env[FONTS_VARIABLE] = t.testdir()
  const bytes = await renderDocument({ type: 'text', text: 'ผัดไทย' }, { model: 'epson', width: 32 })
  t.ok(decodeCommands(bytes, 'epson').some((c) => c.op === 'image'), 'a font directory is accepted')
})

t.test('resvg is loaded only once text needs it', async (t) => {
  const script = `
    import { createRequire } from 'node:module'
    import { renderDocument } from './agent/printers/render.ts'
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('resvg'))
    await renderDocument({ type: 'receipt', blocks: [{ type: 'text', text: 'Café 2x Soup' }, { type: 'columns', columns: [{ text: 'Soup' }, { text: '4.50' }] }] }, { model: 'epson', width: 32 })
    const afterLatin = loaded()
    await renderDocument({ type: 'text', text: 'شاورما' }, { model: 'epson', width: 32 })
    console.log(JSON.stringify([afterLatin, loaded()]))
  `
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname })
  t.same(JSON.parse(stdout), [false, true])
})

t.test('through a real agent, the virtual printer records an Arabic kitchen ticket as raster images', async (t: Test) => {
  const ref = { tenant: 'acme', branch: 'downtown', agent: 'kitchen-pi' }
  const { url } = await startBroker(t)
  const printer = new VirtualPrinter({ commandSet: 'epson' })
  await printer.start()
  t.teardown(() => printer.stop())
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', printer.port)])
  const agent = new Agent({ url, licenseKey: createLicenseKey(ref), stateDir: t.testdir(), logger: testLogger(), statusTimeoutMs: 500, statusIntervalMs: 0 })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()

  const job = printJob({ content: kitchenTicket })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed', 15_000)
  const [ticket] = await printer.waitForTickets(1)
  const bytes = Buffer.from(ticket?.bytes ?? [])
  const commands = decodeCommands(bytes, 'epson')
  // tcpPrinter: 42 characters, 504 dots.
  t.same(commands.filter((c) => c.op === 'image'), [1, 2, 3].map(() => ({ op: 'image', widthDots: 504, height: 36 })))
  t.ok(commands.some((c) => c.op === 'text' && c.text === 'Order 1042'), 'the Latin line stays text')
  t.notOk(commands.some((c) => c.op === 'text' && /[\u0600-\u06ff]/.test(c.text)), 'no Arabic goes out as code-page text')
  t.ok(epsonRasters(bytes).every((raster) => inkColumns(raster).count > 200), 'every image has ink')
  t.match(ticket?.text, /Order 1042/)
})
