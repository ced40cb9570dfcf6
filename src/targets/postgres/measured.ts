/**
 * Failover figures measured on the ha-gen lab (2 cores, loopback hosts, PostgreSQL 15, Patroni 3.0.2
 * with the etcd v2 API, etcd 3.4, synchronous_mode on) with test/live/db-patroni.test.ts through
 * scripts/bench-failover.sh (3 runs per fault and timing): seconds until writes succeed again
 * through the generated HAProxy endpoint, and acknowledged writes lost. Update from `npm run bench:failover`.
 */
export interface FailoverFigure {
  fault: string;
  /** min / median / max seconds until writes succeed again */
  ours: [number, number, number];
  stock: [number, number, number] | null;
  runs: number;
  lostWrites: number;
}

export const MEASURED_FAILOVER: { setup: string; figures: FailoverFigure[]; rpo: string } = {
  setup: '2 cores, 3 Patroni 3.0.2 members + 3 etcd 3.4 + the generated HAProxy on loopback addresses, PostgreSQL 15, synchronous: true, a writer inserting every 100 ms through port 5000, 3 runs per fault',
  figures: [
    { fault: "kill -9 the leader's Patroni", ours: [9.0, 9.5, 10.2], stock: [26.8, 26.8, 28.2], runs: 3, lostWrites: 0 },
    { fault: "SIGSTOP the leader's Patroni (hung, then resumed)", ours: [11.4, 12.0, 12.1], stock: [29.2, 29.2, 29.2], runs: 3, lostWrites: 0 },
    { fault: "kill -9 the leader's postmaster (restarted in place)", ours: [6.6, 7.7, 9.2], stock: [7.3, 9.3, 10.3], runs: 3, lostWrites: 0 },
  ],
  rpo: 'synchronous: true: 0 acknowledged writes lost in every run (kill, hang and postmaster kill). Asynchronous: up to maximum_lag_on_failover (1 MiB of WAL) can be lost.',
};
