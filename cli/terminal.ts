/**
 * Whether a command may read its terminal. A process that reads the terminal while it
 * runs in the background (`printmq virtual-printer ... &` in an interactive shell) is
 * stopped by the kernel ("Stopped (tty input)", SIGTTIN) and serves nobody until
 * brought to the foreground; so commands that take input on the terminal only read it
 * when standard input is a terminal and they are in its foreground process group.
 */
import { readFileSync } from 'node:fs'

/**
 * From the text of `/proc/<pid>/stat`: whether the process's group is its terminal's
 * foreground group, or null when the text is not understood. Fields after the command
 * name (which is in parentheses and may itself contain spaces and parentheses): state,
 * ppid, pgrp, session, tty_nr, tpgid (proc(5)).
 */
export function inForegroundGroup (stat: string): boolean | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const pgrp = Number(fields[2])
  const tpgid = Number(fields[5])
  if (!Number.isInteger(pgrp) || !Number.isInteger(tpgid) || fields.length < 6) return null
  return pgrp === tpgid
}

/**
 * Whether this process may read standard input as a terminal: it is one, and (where
 * the system tells, Linux) this process is in the terminal's foreground group.
 */
export function mayReadTerminal (stdin: { readonly isTTY?: boolean } = process.stdin): boolean {
  if (stdin.isTTY !== true) return false
  let stat: string
  try {
    stat = readFileSync('/proc/self/stat', 'utf8')
  } catch {
    return true
  }
  return inForegroundGroup(stat) ?? true
}
