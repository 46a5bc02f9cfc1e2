/** The part of aedes-persistence-redis (untyped) that printmq uses. */
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis'
  function createPersistence (options: { conn: Redis, maxSessionDelivery?: number }): unknown
  export default createPersistence
}
