/**
 * Every error the agent raises, each with a stable code. `statusCode` is the HTTP
 * status the error would map to if it ever reached a client; for the agent it mainly
 * separates bad input (4xx) from trouble at run time (5xx).
 */
import { defineError } from '../shared/errors.js'

/** `--url` / `PRINTMQ_URL` is missing or not an MQTT URL. */
export const AgentBadUrlError = defineError('PRINTMQ_AGENT_BAD_URL', 400,
  (source: string, reason: string) => `${source}: ${reason}`)

/** `--license` / `PRINTMQ_LICENSE` is missing or not a well-formed license key. */
export const AgentBadLicenseError = defineError('PRINTMQ_AGENT_BAD_LICENSE', 400,
  (source: string, reason: string) => `${source}: ${reason}`)

/** `--state-dir` / `PRINTMQ_STATE_DIR` is unusable. */
export const AgentBadStateDirError = defineError('PRINTMQ_AGENT_BAD_STATE_DIR', 400,
  (source: string, reason: string) => `${source}: ${reason}`)

/** `--log-level` / `PRINTMQ_LOG_LEVEL` is not a pino level. */
export const AgentBadLogLevelError = defineError('PRINTMQ_AGENT_BAD_LOG_LEVEL', 400,
  (source: string, value: string, levels: readonly string[]) =>
    `${source}: ${JSON.stringify(value)} is not one of ${levels.join(', ')}`)

/** A setting (interval, config file key) is not valid. */
export const AgentBadSettingError = defineError('PRINTMQ_AGENT_BAD_SETTING', 400,
  (source: string, reason: string) => `${source}: ${reason}`)

/** The `--config` file cannot be read or is not a JSON object. */
export const AgentBadConfigFileError = defineError('PRINTMQ_AGENT_BAD_CONFIG_FILE', 400,
  (path: string, reason: string) => `--config ${path}: ${reason}`)

/** The journal was used after `stop()`. */
export const JournalClosedError = defineError('PRINTMQ_AGENT_JOURNAL_CLOSED', 500,
  () => 'journal is closed')

/** The printer refused or did not accept the connection in time. */
export const PrinterConnectError = defineError('PRINTMQ_AGENT_PRINTER_CONNECT', 503,
  (address: string, reason: string) => `cannot connect to printer at ${address}: ${reason}`)

/** Writing to the printer failed or did not finish in time. */
export const PrinterWriteError = defineError('PRINTMQ_AGENT_PRINTER_WRITE', 503,
  (address: string, reason: string) => `cannot write to printer at ${address}: ${reason}`)

/** The transport was used while it was not open. */
export const PrinterNotOpenError = defineError('PRINTMQ_AGENT_PRINTER_NOT_OPEN', 500,
  (address: string) => `printer connection to ${address} is not open`)

/** A printer connection type this agent has no transport for. */
export const UnsupportedConnectionError = defineError('PRINTMQ_AGENT_UNSUPPORTED_CONNECTION', 400,
  (type: string) => `no printer transport for connection type ${JSON.stringify(type)}`)

/** The document could not be rendered for the printer. */
export const RenderError = defineError('PRINTMQ_AGENT_RENDER', 422,
  (reason: string) => `cannot render document: ${reason}`)

/** The agent was stopped while an operation waited. */
export const AgentStoppedError = defineError('PRINTMQ_AGENT_STOPPED', 503,
  () => 'agent is stopping')

/** Every agent error class, for the registry test. */
export const AGENT_ERRORS = Object.freeze([
  AgentBadUrlError, AgentBadLicenseError, AgentBadStateDirError, AgentBadLogLevelError, AgentBadSettingError, AgentBadConfigFileError,
  JournalClosedError, PrinterConnectError, PrinterWriteError, PrinterNotOpenError,
  UnsupportedConnectionError, RenderError, AgentStoppedError
])
