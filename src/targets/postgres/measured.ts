/**
 * Failover figures measured on the ha-gen lab (2 cores shared with other test runs, loopback hosts,
 * PostgreSQL 15, Patroni 3.0.2 with the etcd v2 API, etcd 3.4, synchronous_mode on) with
 * test/live/db-patroni.test.ts and scripts/bench-failover.sh: seconds until writes succeed again
 * through the generated HAProxy endpoint, and acknowledged writes lost. Update from `npm run bench:failover`.
 */
export interface FailoverFigure {
  fault: string;
  /** min / median / max seconds until writes succeed again */
  ours: [number, number, number];
  stock: [number, number, number] | null;
  /** runs that failed over / runs, with our timing */
  runs: string;
  lostWrites: number;
}

export const MEASURED_FAILOVER: { setup: string; figures: FailoverFigure[]; rpo: string; caveat: string } = {
  setup: '3 Patroni 3.0.2 members + 3 etcd 3.4 + the generated HAProxy on loopback addresses of one 2-core machine, PostgreSQL 15, synchronous: true, a writer inserting every 100 ms through the write endpoint',
  figures: [
    { fault: "kill -9 the leader's Patroni", ours: [9.0, 9.7, 10.7], stock: [23.7, 26.8, 28.2], runs: '13 of 13', lostWrites: 0 },
    { fault: "SIGSTOP the leader's Patroni (hung, then resumed)", ours: [11.1, 12.1, 13.0], stock: [29.0, 29.1, 29.2], runs: '16 of 17', lostWrites: 0 },
    { fault: "kill -9 the leader's postmaster (restarted in place, no failover)", ours: [2.5, 4.4, 9.2], stock: [5.6, 7.3, 11.5], runs: '16 of 16', lostWrites: 0 },
  ],
  rpo: 'synchronous: true: 0 acknowledged writes lost in every run (kill, hang and postmaster kill). Asynchronous: up to maximum_lag_on_failover (1 MiB of WAL) can be lost.',
  caveat:
    'With synchronous: true Patroni promotes only the standby its /sync key names, and a new leader names one a loop or two (loop_wait 2 s) after it takes over. A leader lost inside that window leaves no standby allowed to take over: writes stop until it returns (no write is lost; `patronictl failover --candidate NAME --force` ends it by hand). That is what stalled 1 of 17 hang runs (and 4 of 11 stock-timing runs): the DCS showed `sync_standby: null`. Faults a few seconds apart hit it; with synchronous: false any healthy standby may take over (at the cost of up to maximum_lag_on_failover of writes).',
};
