import t from 'tap'
import { readyStatus } from '../../virtual-printer/printer-status.js'
import { applyStatusCommand } from '../../virtual-printer/status-commands.js'

t.test('a typed status command switches the printer and ready clears every trouble', async (t) => {
  const status = readyStatus()
  t.ok(applyStatusCommand(status, 'paper-out\n'))
  t.ok(applyStatusCommand(status, 'cover-open'))
  t.match(status, { paperOut: true, coverOpen: true })
  t.ok(applyStatusCommand(status, 'ready'))
  t.match(status, { paperOut: false, coverOpen: false, silent: false })
})

t.test('an unknown status command changes nothing', async (t) => {
  const status = readyStatus()
  t.notOk(applyStatusCommand(status, 'jammed'))
  t.same(status, readyStatus())
})
