/**
 * A bad command line gets node:util's one-line reason and a pointer to --help, exit 2;
 * printmq's own errors their message and code, exit 1; never a stack trace.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { describeCommandError } from '../../cli/command-errors.js'
import { createLicenseKey } from '../../shared/license.js'

const bin = fileURLToPath(new URL('../../bin/printmq.js', import.meta.url))

async function printmq (...args: string[]): Promise<{ code: number, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000, env: { ...process.env, PRINTMQ_LICENSE: createLicenseKey({ tenant: 'acme', branch: 'b1', agent: 'a1' }) } }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stderr })
    })
  })
}

t.test('an unknown option or a missing value: one reason, a pointer to --help, exit 2', async (t) => {
  const unknown = await printmq('agent', '--bogus')
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /^printmq agent: Unknown option '--bogus'/)
  t.match(unknown.stderr, /\(printmq agent --help lists the options\)\n$/)
  const ambiguous = await printmq('agent', '--url', 'mqtt://127.0.0.1:1', '--health-interval', '-5', '--check')
  t.equal(ambiguous.code, 2)
  t.match(ambiguous.stderr, /^printmq agent: Option '--health-interval' argument is ambiguous/)
  const server = await printmq('server', '--bogus')
  t.equal(server.code, 2)
  t.match(server.stderr, /^printmq server: Unknown option '--bogus'/)
  for (const run of [unknown, ambiguous, server]) t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
})

t.test('a bad setting names it with its code, exit 1', async (t) => {
  const bad = await printmq('agent', '--url', 'mqtt://127.0.0.1:1', '--status-timeout', '0', '--check')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^printmq agent: --status-timeout: "0" is not a number of milliseconds \(50 to 86400000\) \(PRINTMQ_AGENT_BAD_SETTING\)\n$/)
})

t.test('only an unexpected error shows its stack', async (t) => {
  t.match(describeCommandError('server', new TypeError('boom')).text, /^printmq server: TypeError: boom\n\s+at /)
  t.equal(describeCommandError('server', new TypeError('boom')).exitCode, 1)
})
