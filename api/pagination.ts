/**
 * Cursor pagination over id-ordered lists: the cursor is the last id of the previous
 * page, base64url-encoded so clients treat it as opaque.
 */
import { isValidId } from '../shared/ids.js'
import { InvalidRequestError } from './errors.js'
import { DEFAULT_PAGE_SIZE } from './schemas.js'

/** Where a page starts and how long it is; `limit` is one more than asked, to see if more follow. */
export interface PageRequest { readonly after: string | null, readonly limit: number }

/** Read `?limit=&cursor=`. */
export function pageRequest (query: { limit?: number, cursor?: string }): PageRequest {
  let after: string | null = null
  if (query.cursor !== undefined) {
    after = Buffer.from(query.cursor, 'base64url').toString('utf8')
    if (!isValidId(after)) throw new InvalidRequestError('cursor is not one this API gave out')
  }
  return { after, limit: (query.limit ?? DEFAULT_PAGE_SIZE) + 1 }
}

/** Cut the extra row off and make the next cursor. */
export function pageOf<R extends { id: string }, V> (rows: readonly R[], request: PageRequest, view: (row: R) => V): { items: V[], nextCursor: string | null } {
  const more = rows.length === request.limit
  const page = more ? rows.slice(0, request.limit - 1) : rows
  const last = page.at(-1)
  return { items: page.map(view), nextCursor: more && last !== undefined ? Buffer.from(last.id).toString('base64url') : null }
}
