/** When backups and dumps run, in words (plan, RUNBOOK.md) and for the timers (targets/backup). */
import type { Spec } from '../spec/schema.js';

export function backupSchedule(spec: Spec): { backup: string; dump: string } {
  const b = spec.backup;
  const backup = b.full === 'daily' ? `full backup daily at ${b.time} UTC` : `full backup ${b.weekday} ${b.time} UTC, differential the other days at ${b.time}`;
  return { backup, dump: `pg_dump daily at ${dumpTime(spec)} UTC, ${b.dumpDays} days kept` };
}

/** The logical dump runs one hour after the base backup. */
export function dumpTime(spec: Spec): string {
  const [h, m] = spec.backup.time.split(':').map(Number) as [number, number];
  return `${String((h + 1) % 24).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}
