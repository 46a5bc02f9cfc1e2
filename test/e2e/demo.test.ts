/**
 * `printmq demo`, as the README runs it: server, virtual printer and agent in one
 * process print the sample ticket; the temporary data directory is gone when the demo
 * ends, after `--once` and after Ctrl-C (SIGINT); a directory given with --data-dir
 * is kept.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const bin = fileURLToPath(new URL('../../bin/printmq.js', import.meta.url))

interface DemoRun { readonly code: number | null, readonly output: string }

/** Run `printmq demo ARGS`; `interruptAfter`: send SIGINT once a line matches it. */
async function runDemo (args: string[], interruptAfter?: RegExp): Promise<DemoRun> {
  const child = spawn(process.execPath, [bin, 'demo', ...args], { env: { ...process.env, PRINTMQ_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    if (interruptAfter !== undefined && interruptAfter.test(output)) {
      interruptAfter = undefined
      child.kill('SIGINT')
    }
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 90_000)
  const code = await new Promise<number | null>((resolve) => { child.on('close', (exitCode) => { resolve(exitCode) }) })
  clearTimeout(timer)
  return { code, output }
}

function dataDirOf (output: string): string {
  const match = /^printmq demo: data in (\S+)/m.exec(output)
  if (match === null) throw new Error(`no data dir in: ${output}`)
  return match[1] as string
}

t.test('demo --once prints the sample ticket, exits 0 and removes its temporary directory', async (t) => {
  const { code, output } = await runDemo(['--once'])
  t.equal(code, 0, output)
  t.match(output, /--- the ticket as printed ---\n[\s\S]*Order #1042[\s\S]*--- end of ticket ---/)
  t.match(output, /job state: printed/)
  t.match(output, /removed when the demo ends/)
  t.notOk(existsSync(dataDirOf(output)), 'the temporary data directory is gone')
})

t.test('demo stopped with Ctrl-C exits 0 and removes its temporary directory', async (t) => {
  const { code, output } = await runDemo([], /Press Ctrl-C to stop/)
  t.equal(code, 0, output)
  t.match(output, /job state: printed/)
  t.notOk(existsSync(dataDirOf(output)), 'the temporary data directory is gone')
})

t.test('demo --data-dir keeps the directory and its tickets', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'printmq-demo-kept-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { code, output } = await runDemo(['--once', '--data-dir', dir])
  t.equal(code, 0, output)
  t.equal(dataDirOf(output), dir)
  t.notMatch(output, /removed when the demo ends/)
  t.ok((await readdir(join(dir, 'virtual-printer'))).includes('1.txt'), 'the ticket is still there')
})
