/** Request schemas shared by routes (TypeBox, so they double as OpenAPI). */
import Type from 'typebox'
import { ID_PATTERN, JOB_ID_PATTERN } from '../shared/ids.js'

/** A tenant, branch, agent or printer id. */
export const Id = Type.String({ pattern: ID_PATTERN, description: '1-64 of A-Z a-z 0-9 _ -' })
/** A print job id. */
export const JobId = Type.String({ pattern: JOB_ID_PATTERN, description: 'UUID' })
/** An optional display name. */
export const Name = Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
/** `{ branchId }` path parameters. */
export const BranchParams = Type.Object({ branchId: Id })
