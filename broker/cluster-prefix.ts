/**
 * The namespace of a cluster's Redis keys and channels (PRINTMQ_REDIS_PREFIX). On its
 * own so that reading the configuration does not load the Redis modules.
 */

/** A prefix: letters, digits and `_ - . :`; no MQTT wildcards, no Redis glob characters. */
export const CLUSTER_PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/
