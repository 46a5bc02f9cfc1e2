/**
 * Handles a `discovery-request` message: validate and hand it to the discovery, which
 * runs it after this returns (the PUBACK waits for the handler; a scan takes seconds).
 * An invalid request is logged and acknowledged: delivering it again cannot fix it.
 */
import type { Logger } from '../../shared/logger.js'
import { decodeMessage, InvalidMessageError } from '../../shared/messages.js'
import type { PrinterDiscovery } from '../discovery/printer-discovery.js'

/** What the discovery-request handler needs. */
export interface DiscoveryRequestHandlerDeps {
  readonly discovery: Pick<PrinterDiscovery, 'submit'>
  readonly logger: Logger
}

/** Handler of the agent's `discovery` topic. */
export function createDiscoveryRequestHandler (deps: DiscoveryRequestHandlerDeps): (payload: Buffer) => Promise<void> {
  return async (payload) => {
    try {
      const request = decodeMessage('discovery-request', payload)
      deps.logger.info({ discoveryId: request.discoveryId, correlationId: request.correlationId, serial: request.serial, hosts: request.tcp?.hosts.length ?? 0 }, 'discovery requested')
      deps.discovery.submit(request)
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err
      deps.logger.warn({ reason: err.message }, 'discovery request invalid')
    }
  }
}
