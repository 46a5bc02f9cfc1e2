/**
 * Handles the retained `agent-config` message: the printers this agent drives.
 * An empty retained message (the server cleared the config) means no printers.
 */
import type { Logger } from '../../shared/logger.js'
import { decodeMessage, InvalidMessageError } from '../../shared/messages.js'
import type { PrinterDirectory } from '../printer-directory.js'

/** What the config handler needs. */
export interface AgentConfigHandlerDeps {
  readonly directory: PrinterDirectory
  readonly logger: Logger
}

/** Handler of the agent's `config` topic. */
export function createAgentConfigHandler (deps: AgentConfigHandlerDeps): (payload: Buffer) => Promise<void> {
  return async (payload) => {
    if (payload.length === 0) {
      deps.directory.update([])
      deps.logger.info({ printers: 0 }, 'config cleared')
      return
    }
    try {
      const config = decodeMessage('agent-config', payload)
      deps.directory.update(config.printers)
      deps.logger.info({ printers: config.printers.map((p) => p.id), correlationId: config.correlationId }, 'config applied')
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err
      // Keep the printers we have: a bad config must not stop a kitchen that works.
      deps.logger.error({ reason: err.message }, 'config invalid')
    }
  }
}
