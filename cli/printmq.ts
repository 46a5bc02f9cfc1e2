/**
 * `printmq <command>`: dispatches to one command module. Each command module is a
 * composition root: the only code that reads process.env and handles signals.
 */
import { PRINTMQ_VERSION } from '../shared/version.js'
import { describeCommandError } from './command-errors.js'

type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<void>

const COMMANDS: Record<string, { describe: string, load: () => Promise<Command> }> = {
  server: { describe: 'run the broker and the API (embedded defaults: PGlite, in-process broker)', load: async () => (await import('./server-command.js')).run },
  agent: { describe: 'run a branch agent that prints jobs on its printers', load: async () => (await import('./agent-command.js')).run },
  'virtual-printer': { describe: 'run a TCP ESC/POS printer that stores what it prints', load: async () => (await import('./virtual-printer-command.js')).run },
  token: { describe: 'mint a JWT for a tenant and role', load: async () => (await import('./token-command.js')).run },
  migrate: { describe: 'run database migrations and exit', load: async () => (await import('./migrate-command.js')).run },
  'mosquitto-files': { describe: 'write Mosquitto password and ACL files from the database', load: async () => (await import('./mosquitto-files-command.js')).run },
  demo: { describe: 'start server, virtual printer and agent, and print a sample ticket', load: async () => (await import('./demo-command.js')).run }
}

function usage (): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)} ${c.describe}`)
  return `usage: printmq <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nprintmq <command> --help shows a command's options.`
}

const [name, ...rest] = process.argv.slice(2)
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  console.log(usage())
} else if (name === '--version' || name === '-v') {
  console.log(PRINTMQ_VERSION)
} else if (COMMANDS[name] === undefined) {
  console.error(`printmq: unknown command ${JSON.stringify(name)}\n\n${usage()}`)
  process.exitCode = 2
} else {
  try {
    const command = await COMMANDS[name].load()
    await command(rest, process.env)
  } catch (err) {
    const { text, exitCode } = describeCommandError(name, err)
    console.error(text)
    process.exitCode = exitCode
  }
}
