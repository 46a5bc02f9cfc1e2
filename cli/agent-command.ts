/**
 * `printmq agent`: the branch agent's composition root. Reads flags, environment and
 * an optional JSON config file once, builds the root logger, runs the agent until
 * SIGINT or SIGTERM (or, with `--check`, checks broker, license and printers and exits).
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { Agent } from '../agent/agent.js'
import { formatReport, runAgentCheck } from '../agent/check.js'
import { loadAgentConfig, type AgentFileConfig } from '../agent/config.js'
import { AgentBadConfigFileError } from '../agent/errors.js'
import { createTransportFactory } from '../agent/printers/transport.js'
import { createLogger } from '../shared/logger.js'
import { untilSignal } from './signals.js'

const HELP = `usage: printmq agent [--url URL] [--license KEY] [--state-dir DIR] [--log-level LEVEL]
                     [--health-interval MS] [--status-interval MS] [--status-timeout MS]
                     [--config FILE] [--check]

Connects to the broker with its license key, prints the jobs sent to it on the
printers its config names, and reports results, printer status and health.

  --url URL              broker: mqtt://, mqtts://, ws:// or wss://        (PRINTMQ_URL)
                         several (a cluster): repeat --url or separate with commas;
                         when one goes away the agent moves to the next
  --license KEY          the agent's license key                           (PRINTMQ_LICENSE)
                         prefer the variable: flags show up in process lists
  --state-dir DIR        where the job journal lives (default ./.agent-state) (PRINTMQ_STATE_DIR)
  --log-level LEVEL      fatal, error, warn, info, debug, trace, silent    (PRINTMQ_LOG_LEVEL)
  --health-interval MS   retained health every MS (default 15000)          (PRINTMQ_HEALTH_INTERVAL_MS)
  --status-interval MS   idle printer status check every MS (default 5000, 0 off) (PRINTMQ_STATUS_INTERVAL_MS)
  --status-timeout MS    time a printer has to answer DLE EOT (default 2000) (PRINTMQ_STATUS_TIMEOUT_MS)
  --config FILE          JSON file with any of: url, license, stateDir, logLevel,
                         healthInterval, statusInterval, statusTimeout
                         (flags and variables win over the file)
  --check                check broker connection, license and each printer, print a
                         report and exit (1 when something is wrong). It logs in as
                         the agent: a running agent is disconnected and reconnects.`

async function readConfigFile (path: string | undefined): Promise<AgentFileConfig> {
  if (path === undefined) return {}
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new AgentBadConfigFileError(path, (err as Error).message)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new AgentBadConfigFileError(path, `not JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AgentBadConfigFileError(path, 'not a JSON object')
  return value as AgentFileConfig
}

/** Run the agent until SIGINT or SIGTERM, or check it with `--check`. */
export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: 'string', multiple: true },
      license: { type: 'string' },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'health-interval': { type: 'string' },
      'status-interval': { type: 'string' },
      'status-timeout': { type: 'string' },
      config: { type: 'string' },
      check: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    console.log(HELP)
    return
  }
  const file = await readConfigFile(values.config)
  const config = loadAgentConfig(values, env, file, values.config)
  if (values.check === true) {
    const report = await runAgentCheck(config, { transports: createTransportFactory() })
    console.log(formatReport(report))
    if (report.problems > 0) process.exitCode = 1
    return
  }
  const logger = createLogger({ level: config.logLevel, name: 'printmq-agent' })
  const agent = new Agent({
    url: config.url,
    urls: config.urls,
    licenseKey: config.licenseKey,
    stateDir: config.stateDir,
    logger,
    healthIntervalMs: config.healthIntervalMs,
    statusIntervalMs: config.statusIntervalMs,
    statusTimeoutMs: config.statusTimeoutMs
  })
  await agent.start()
  logger.info({ agent: config.agent, stateDir: config.stateDir }, 'agent running')
  await untilSignal()
  logger.info('agent stopping')
  await agent.stop()
}
