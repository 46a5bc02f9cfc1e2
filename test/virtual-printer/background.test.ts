/**
 * `printmq virtual-printer ... &` in an interactive shell: the printer must not read the
 * terminal from the background (the kernel would stop it, "Stopped (tty input)", and
 * tickets sent to it would never come out). Driven through a real pseudo-terminal
 * (`script`) and an interactive bash with job control, as a user's terminal runs it.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { inForegroundGroup, mayReadTerminal } from '../../cli/terminal.js'
import { freePort } from '../helpers/server-process.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

t.test('the foreground test reads pgrp and tpgid from /proc/<pid>/stat', async (t) => {
  // pid (comm) state ppid pgrp session tty_nr tpgid ...
  t.equal(inForegroundGroup('4242 (node) S 4200 4242 4200 34816 4242 4194304 0'), true)
  t.equal(inForegroundGroup('4242 (node) T 4200 4242 4200 34816 4100 4194304 0'), false)
  // A command name with spaces and parentheses does not shift the fields.
  t.equal(inForegroundGroup('4242 (my (odd) name) S 4200 4242 4200 34816 4100 4194304 0'), false)
  t.equal(inForegroundGroup('garbage'), null)
  t.equal(mayReadTerminal({ isTTY: false }), false, 'standard input that is no terminal is never read')
  t.equal(mayReadTerminal({}), false)
})

const hasScript = existsSync('/usr/bin/script') && existsSync('/bin/bash')

t.test('started with & in an interactive shell, it keeps printing and is not stopped', { skip: hasScript ? false : 'needs script(1) from util-linux and bash' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'printmq-vp-bg-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const out = join(dir, 'tickets')
  const node = process.execPath
  // Job control on (set -m), the printer in the background, a ticket sent to it over TCP
  // once it listens, then the shell lists its jobs and ends the printer.
  const session = [
    'set -m',
    `"${node}" "${join(root, 'bin/printmq.js')}" virtual-printer --port ${port} --out "${out}" > "${join(dir, 'printer.log')}" 2>&1 &`,
    `for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && break; sleep 0.1; done`,
    `printf 'ticket from the background\\n\\n\\x1dV\\x00' > /dev/tcp/127.0.0.1/${port}`,
    'sleep 1',
    'echo JOBS; jobs -l; echo END',
    'kill -TERM %1; kill -CONT %1 2>/dev/null; wait'
  ].join('\n')
  const sessionFile = join(dir, 'session.sh')
  await writeFile(sessionFile, session + '\n')
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile('/usr/bin/script', ['-qefc', `/bin/bash --norc --noprofile -i -c 'source "${sessionFile}"'`, '/dev/null'], { timeout: 60_000, env: { ...process.env, PS1: '' } }, (err, stdout) => {
      if (err !== null && (err as { killed?: boolean }).killed === true) reject(err)
      else resolve(stdout)
    })
    // Someone types on the terminal while the printer runs in the background: that input
    // is what a background reader of the terminal would be stopped for.
    child.stdin?.write('typed while the printer runs\n')
  })
  t.comment(output)
  const jobs = output.slice(output.indexOf('JOBS'), output.indexOf('END'))
  t.ok(jobs.length > 0, 'the session ran')
  t.notMatch(jobs, /Stopped/, `the shell's job list: ${jobs}`)
  t.match(await readFile(join(dir, 'printer.log'), 'utf8'), /running in the background: status commands on the terminal are off/)
  t.match(await readFile(join(out, '1.txt'), 'utf8'), /ticket from the background/, 'the ticket came out')
})
