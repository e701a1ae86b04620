/**
 * Environment variables of checkpoints, stalled-job recovery, shutdown and retention: declared in
 * src/config.ts with every other variable (part of `Config`), re-exported here for the queue,
 * storage and worker modules. Documented in docs/reliability.md.
 */
export { loadReliabilityConfig, reliabilityEnv, reliabilityOf, RELIABILITY_DEFAULTS, ReliabilityConfigSchema, type ReliabilityConfig } from '../config.js';
