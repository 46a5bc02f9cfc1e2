/**
 * Turns every error into `{ statusCode, code, message }` with a stable code. Unknown
 * errors are logged and answered as 500 without internals.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import { PrintmqError } from '../shared/errors.js'
import { ID_PATTERN, JOB_ID_PATTERN } from '../shared/ids.js'
import { isDatabaseUnavailable } from './db/unavailable.js'
import {
  InternalError, InvalidIdError, InvalidRequestError, PayloadTooLargeError, RouteNotFoundError, ServiceUnavailableError, UnsupportedMediaTypeError
} from './errors.js'

const ID_PARAM = /(^|\/)(id|[A-Za-z]+Id)$/

/** Install the error and not-found handlers on `app`. */
export function installErrorHandlers (app: FastifyInstance, bodyLimit: number): void {
  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, request.url.split('?')[0] ?? '')
    void reply.code(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const error = toPrintmqError(err, bodyLimit, request.headers['content-type'], request.body === undefined)
    if (error.statusCode >= 500) request.log.error({ err }, 'request failed')
    if (error.statusCode === 503) void reply.header('retry-after', '5')
    void reply.code(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })
}

/** What an id that fails its pattern must look like, by pattern. */
const ID_RULES = new Map([[ID_PATTERN, '1-64 of A-Z a-z 0-9 _ -'], [JOB_ID_PATTERN, 'a job id is a UUID such as 0b4ee6a1-5f4c-4c1e-9f0e-2f1d3c6a7b8c']])

function toPrintmqError (err: FastifyError, bodyLimit: number, contentType: string | undefined, noBody: boolean): PrintmqError {
  if (err instanceof PrintmqError) return err
  if (err.validation !== undefined) {
    const first = err.validation[0]
    const path = `${err.validationContext ?? ''}${first?.instancePath ?? ''}`
    if (first?.keyword === 'pattern' && ID_PARAM.test(first.instancePath)) {
      return new InvalidIdError(path, ID_RULES.get(String(first.params.pattern)) ?? `must match ${String(first.params.pattern)}`)
    }
    // An empty body (see the JSON parser in app.ts) where the route needs one.
    if (err.validationContext === 'body' && noBody && first?.instancePath === '') return new InvalidRequestError('body must not be empty')
    return new InvalidRequestError(`${path} ${first?.message ?? 'is invalid'}`.trim())
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new PayloadTooLargeError(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new UnsupportedMediaTypeError((contentType ?? '').split(';')[0]?.trim() || 'none')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return new InvalidRequestError('body must not be empty')
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return new InvalidRequestError('body is not valid JSON')
  }
  if (isDatabaseUnavailable(err)) return new ServiceUnavailableError('database unreachable')
  if (err.statusCode === 400 || err instanceof SyntaxError) return new InvalidRequestError(err.message)
  return new InternalError()
}

