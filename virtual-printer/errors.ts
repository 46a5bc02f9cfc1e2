/** Errors of the virtual printer, each with a stable code. */
import { defineError } from '../shared/errors.js'

/** A flag of `printmq virtual-printer` has a bad value. */
export const VirtualPrinterBadFlagError = defineError('PRINTMQ_VIRTUAL_PRINTER_BAD_FLAG', 400,
  (flag: string, reason: string) => `${flag}: ${reason}`)
