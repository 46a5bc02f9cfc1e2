import t from 'tap'
import { StatusTracker } from '../../agent/status-tracker.js'
import { StatusReporter } from '../../agent/status-reporter.js'
import { READY_CONDITIONS } from '../../shared/escpos-status.js'
import { decodeMessage } from '../../shared/messages.js'
import { testLogger } from './helpers/mqtt-fixture.js'

function tracker (): { tracker: StatusTracker, published: string[] } {
  const published: string[] = []
  const reporter = new StatusReporter({
    topicFor: (id) => id,
    publishRetained: async (_topic, payload) => { published.push(decodeMessage('printer-status', payload).state) },
    sessionId: () => 'session-1',
    logger: testLogger()
  })
  return { tracker: new StatusTracker(reporter), published }
}

const ready = { state: 'ready' as const, conditions: READY_CONDITIONS }
const silent = { state: 'offline' as const, detail: 'no answer to DLE EOT 1 within 100 ms' }

t.test('a printer is offline only after three missed status answers in a row', async (t) => {
  const { tracker: tr, published } = tracker()
  t.equal(tr.observe('p', ready).state, 'ready')
  t.equal(tr.observe('p', silent).state, 'ready')
  t.equal(tr.observe('p', silent).state, 'ready')
  t.match(tr.observe('p', silent), { state: 'offline', detail: /no answer/ })
  t.equal(tr.observe('p', ready).state, 'ready')
  t.same(published, ['ready', 'offline', 'ready'], 'the retained status is published on change only')
})

t.test('an answer resets the count of missed answers', async (t) => {
  const { tracker: tr } = tracker()
  tr.observe('p', silent)
  tr.observe('p', silent)
  tr.observe('p', ready)
  tr.observe('p', silent)
  t.equal(tr.misses('p'), 1)
  t.equal(tr.observe('p', silent).state, 'ready')
})

t.test('a printer that never answered is unknown until the third miss', async (t) => {
  const { tracker: tr, published } = tracker()
  t.equal(tr.observe('p', silent).state, 'unknown')
  t.equal(tr.observe('p', silent).state, 'unknown')
  t.equal(tr.observe('p', silent).state, 'offline')
  t.same(published, ['unknown', 'offline'])
})
