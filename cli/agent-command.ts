/**
 * `printmq agent`: the branch agent's composition root. Reads flags and environment
 * once, builds the root logger, runs the agent until SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util'
import { Agent } from '../agent/agent.js'
import { loadAgentConfig } from '../agent/config.js'
import { createLogger } from '../shared/logger.js'
import { untilSignal } from './signals.js'

const HELP = `usage: printmq agent [--url URL] [--license KEY] [--state-dir DIR] [--log-level LEVEL]

Connects to the broker with its license key, prints the jobs sent to it on the
printers its config names, and reports results, printer status and health.

  --url URL          broker: mqtt://, mqtts://, ws:// or wss://     (PRINTMQ_URL)
  --license KEY      the agent's license key                        (PRINTMQ_LICENSE)
                     prefer the variable: flags show up in process lists
  --state-dir DIR    where the job journal lives (default ./.agent-state) (PRINTMQ_STATE_DIR)
  --log-level LEVEL  fatal, error, warn, info, debug, trace, silent (PRINTMQ_LOG_LEVEL)`

/** Run the agent until SIGINT or SIGTERM. */
export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: 'string' },
      license: { type: 'string' },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    console.log(HELP)
    return
  }
  const config = loadAgentConfig(values, env)
  const logger = createLogger({ level: config.logLevel, name: 'printmq-agent' })
  const agent = new Agent({ url: config.url, licenseKey: config.licenseKey, stateDir: config.stateDir, logger })
  await agent.start()
  logger.info({ agent: config.agent, stateDir: config.stateDir }, 'agent running')
  await untilSignal()
  logger.info('agent stopping')
  await agent.stop()
}
