/** `printmq server`: broker + API on embedded defaults or the configured services. */
import { parseArgs } from 'node:util'
import { createLogger } from '../shared/logger.js'
import { loadServerConfig } from '../server/config.js'
import { PrintmqServer } from '../server/server.js'
import { stopWithin, untilSignal } from './signals.js'

const HELP = `usage: printmq server [--http-port N] [--mqtt-port N] [--data-dir DIR] [--log-level LEVEL]

Runs the MQTT broker and the REST API. Without DATABASE_URL it keeps its data in
PGlite under the data dir (default ./data). With PRINTMQ_REDIS_URL (and a shared
DATABASE_URL) instances form a cluster. SIGTERM or SIGINT drains and exits within
PRINTMQ_SHUTDOWN_GRACE_SECONDS (default 10); a second signal exits at once.
See README.md for every variable.`

export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'http-port': { type: 'string' },
      'mqtt-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { console.log(HELP); return }
  const config = loadServerConfig(env, values)
  const logger = createLogger({ level: config.logLevel })
  const server = new PrintmqServer(config, logger)
  const { httpPort, mqttPort } = await server.start()
  if (config.jwtSecret === null) {
    logger.info({ httpPort, mqttPort, dataDir: config.dataDir }, 'embedded defaults: mint a token with `npx printmq token --tenant demo --role admin`')
  }
  const signal = await untilSignal()
  const graceMs = config.shutdownGraceSeconds * 1000
  logger.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'stopping: draining connections (a second signal exits at once)')
  const code = await stopWithin(
    async () => { await server.stop() },
    graceMs,
    () => { logger.error({ graceSeconds: config.shutdownGraceSeconds }, 'shutdown grace period over: exiting without finishing the drain') },
    (second) => { logger.warn({ signal: second }, 'second signal: exiting now') }
  )
  if (code === 0) logger.info('stopped')
  // Exit now: a client library's reconnect timer must not keep a stopped server alive.
  process.exit(code)
}
