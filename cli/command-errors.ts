/**
 * How a command that failed says so: printmq's own errors (`PRINTMQ_*` codes) and bad
 * command lines (node:util parseArgs) as their message, without a stack trace; only an
 * unexpected error shows its stack. Bad command lines exit 2, other failures 1.
 */

/** The text for standard error and the exit code of `printmq NAME` failing with `err`. */
export function describeCommandError (name: string, err: unknown): { readonly text: string, readonly exitCode: number } {
  const e = err as { code?: unknown, message?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : String(err)
  if (code.startsWith('PRINTMQ_')) return { text: `printmq ${name}: ${message} (${code})`, exitCode: 1 }
  if (code.startsWith('ERR_PARSE_ARGS_')) return { text: `printmq ${name}: ${message}\n(printmq ${name} --help lists the options)`, exitCode: 2 }
  return { text: `printmq ${name}: ${err instanceof Error ? err.stack ?? message : message}`, exitCode: 1 }
}
