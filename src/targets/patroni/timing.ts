/** Patroni's failover timing, as generated (bootstrap.dcs); a leaf module that plan reads too. */

/** Failover timing (bootstrap.dcs). Rule: loop_wait + 2 * retry_timeout <= ttl. See DCS_TIMING_WHY. */
export const DCS_TIMING = { ttl: 10, loop_wait: 2, retry_timeout: 4 } as const;
/** Patroni's stock values, for the benchmark and the README comparison. */
export const STOCK_TIMING = { ttl: 30, loop_wait: 10, retry_timeout: 10 } as const;
export const DCS_TIMING_WHY =
  'ttl 10 / loop_wait 2 / retry_timeout 4 (Patroni stock: 30 / 10 / 10): a dead or hung leader loses its key after 10 s, so a standby takes over in ~9-13 s instead of ~25-33 s; loop_wait + 2 * retry_timeout <= ttl keeps a slow etcd from demoting a healthy leader.';
