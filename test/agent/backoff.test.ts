import t from 'tap'
import { backoffDelay } from '../../agent/backoff.js'

const bounds = { initialMs: 1000, maxMs: 60_000 }

t.test('reconnect delays double per attempt within half and all of the ceiling', async (t) => {
  t.equal(backoffDelay(0, bounds, () => 0), 500)
  t.equal(backoffDelay(0, bounds, () => 1), 1000)
  t.equal(backoffDelay(3, bounds, () => 0), 4000)
  t.equal(backoffDelay(3, bounds, () => 1), 8000)
})

t.test('reconnect delays never exceed the maximum, however many attempts failed', async (t) => {
  t.equal(backoffDelay(10, bounds, () => 1), 60_000)
  t.equal(backoffDelay(5000, bounds, () => 1), 60_000)
  t.equal(backoffDelay(5000, bounds, () => 0), 30_000)
})
