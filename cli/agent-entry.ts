/**
 * Entry of the bundled agent: `node dist/printmq-agent.mjs [flags]` is
 * `printmq agent [flags]` as one plain JavaScript file, without tsx compiling
 * TypeScript in the process (built by `npm run build:agent`, scripts/build-agent.ts).
 */
import { PRINTMQ_VERSION } from '../shared/version.js'
import { run } from './agent-command.js'
import { describeCommandError } from './command-errors.js'

const argv = process.argv.slice(2)
if (argv[0] === '--version' || argv[0] === '-v') {
  console.log(PRINTMQ_VERSION)
} else {
  try {
    await run(argv, process.env)
  } catch (err) {
    const { text, exitCode } = describeCommandError('agent', err)
    console.error(text)
    process.exitCode = exitCode
  }
}
