import t from 'tap'
import { decodeMessage, encodeMessage, InvalidMessageError } from '../../shared/messages.js'
import { canTransition, JOB_STATES, TERMINAL_JOB_STATES } from '../../shared/job-states.js'
import { isValidCorrelationId, isValidId, isValidJobId, newId } from '../../shared/ids.js'

const jobId = newId()
const job = {
  jobId,
  printerId: 'p1',
  content: { type: 'text' as const, text: 'hello' },
  copies: 1,
  expiresAt: new Date(Date.now() + 60_000).toISOString()
}

t.test('a print job round-trips with its envelope', async (t) => {
  const decoded = decodeMessage('print-job', encodeMessage('print-job', 'corr-1', job))
  t.match(decoded, { v: 1, kind: 'print-job', correlationId: 'corr-1', ...job })
  t.match(decoded.id, /^[0-9a-f-]{36}$/)
  t.ok(Date.parse(decoded.sentAt) > 0)
})

t.test('encoding an invalid message throws instead of sending it', async (t) => {
  t.throws(() => encodeMessage('print-job', 'c', { ...job, copies: 11 }), InvalidMessageError)
  t.throws(() => encodeMessage('print-job', 'bad correlation id', job), InvalidMessageError)
})

t.test('decoding rejects non-JSON, wrong kinds, extra fields and bad values', async (t) => {
  const valid = JSON.parse(encodeMessage('print-job', 'c', job).toString())
  t.throws(() => decodeMessage('print-job', 'not json'), InvalidMessageError)
  t.throws(() => decodeMessage('job-result', JSON.stringify(valid)), InvalidMessageError)
  t.throws(() => decodeMessage('print-job', JSON.stringify({ ...valid, extra: 1 })), InvalidMessageError)
  t.throws(() => decodeMessage('print-job', JSON.stringify({ ...valid, printerId: 'a/b' })), InvalidMessageError)
  t.throws(() => decodeMessage('print-job', JSON.stringify({ ...valid, v: 2 })), InvalidMessageError)
  t.throws(() => decodeMessage('print-job', JSON.stringify({ ...valid, content: { type: 'text', text: '' } })), InvalidMessageError)
})

t.test('results, health, status and config validate', async (t) => {
  t.ok(decodeMessage('job-result', encodeMessage('job-result', 'c', { jobId, printerId: 'p1', state: 'printed', code: 200 })))
  t.throws(() => encodeMessage('job-result', 'c', { jobId, printerId: 'p1', state: 'queued' as never, code: 200 }), InvalidMessageError)
  t.ok(decodeMessage('agent-health', encodeMessage('agent-health', 'c', { sessionId: 's', online: true })))
  t.ok(decodeMessage('printer-status', encodeMessage('printer-status', 'c', { printerId: 'p1', sessionId: 's', state: 'paper-out' })))
  t.ok(decodeMessage('agent-config', encodeMessage('agent-config', 'c', {
    printers: [{ id: 'p1', model: 'epson', width: 48, connection: { type: 'tcp', host: '10.0.0.5', port: 9100 } }]
  })))
})

t.test('job states move forward only and terminal states are final', async (t) => {
  t.ok(canTransition('queued', 'dispatched'))
  t.ok(canTransition('dispatched', 'accepted'))
  t.ok(canTransition('accepted', 'printed'))
  t.ok(canTransition('queued', 'printed'), 'a result may overtake the broker acknowledgement')
  t.notOk(canTransition('accepted', 'dispatched'))
  t.notOk(canTransition('dispatched', 'dispatched'))
  for (const terminal of TERMINAL_JOB_STATES) {
    for (const to of JOB_STATES) t.notOk(canTransition(terminal, to), `${terminal} -> ${to}`)
  }
})

t.test('ids, job ids and correlation ids validate', async (t) => {
  t.ok(isValidId('A-z_09'))
  for (const bad of ['', 'a b', 'a/b', 'a+b', 'a#b', '$a', 'a.b', 'é', 'x'.repeat(65), '\u0000']) t.notOk(isValidId(bad), JSON.stringify(bad))
  t.ok(isValidJobId(newId()))
  t.notOk(isValidJobId('not-a-uuid'))
  t.ok(isValidCorrelationId('order-42:retry.1'))
  t.notOk(isValidCorrelationId('has space'))
  t.notOk(isValidCorrelationId('x'.repeat(129)))
})
