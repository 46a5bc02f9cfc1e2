/** printmq's version, reported in agent health and `printmq --version`. */
export const PRINTMQ_VERSION = '0.1.0'
