/**
 * shared/logger.ts: lazyChild makes its pino child only when a line is logged at an
 * enabled level, and then logs with the bindings as `logger.child` would.
 */
import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger, lazyChild } from '../../shared/logger.js'

function capture (level: string): { lines: Array<Record<string, unknown>>, logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({ write (chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString('utf8'))); done() } })
  return { lines, logger: createLogger({ level, destination }) }
}

t.test('below the level nothing is made or written; at it, the line carries the bindings', async (t) => {
  const { lines, logger } = capture('warn')
  let children = 0
  const child = logger.child.bind(logger)
  logger.child = ((...args: Parameters<typeof logger.child>) => { children++; return child(...args) }) as typeof logger.child
  const log = lazyChild(logger, { jobId: 'j1', correlationId: 'c1' })
  log.info({ state: 'printed' }, 'job result applied')
  log.debug('detail')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(children, 0, 'no child made for lines below the level')
  t.same(lines, [], 'nothing written')
  log.warn({ state: 'printed' }, 'job printed after cancel')
  log.error('and again')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(children, 1, 'one child, made on the first enabled line')
  t.match(lines, [
    { level: 40, jobId: 'j1', correlationId: 'c1', state: 'printed', msg: 'job printed after cancel' },
    { level: 50, jobId: 'j1', correlationId: 'c1', msg: 'and again' }
  ])
})

t.test('redaction still applies to the bindings and the line', async (t) => {
  const { lines, logger } = capture('info')
  lazyChild(logger, { licenseKey: 'secret-key' }).info({ token: 'secret-token' }, 'hello')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(lines[0]?.licenseKey, '[redacted]')
  t.equal(lines[0]?.token, '[redacted]')
})
