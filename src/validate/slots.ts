/**
 * A counting semaphore whose waiters are served lowest priority number first (FIFO among equals).
 * validate bounds the programs it runs at once with it, not the checks: a check that only waits
 * for a shared run (a batch, the throwaway PostgreSQL) holds no slot while it waits.
 */
export class Slots {
  private busy = 0;
  private seq = 0;
  private readonly waiting: Array<{ prio: number; seq: number; go: () => void }> = [];

  constructor(readonly size: number) {}

  async run<T>(prio: number, fn: () => Promise<T>): Promise<T> {
    if (this.busy >= this.size) {
      await new Promise<void>((go) => {
        this.waiting.push({ prio, seq: this.seq++, go });
        this.waiting.sort((a, b) => a.prio - b.prio || a.seq - b.seq);
      });
    } else this.busy++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // the slot passes straight to the next waiter, so busy stays as it is
      if (next) next.go();
      else this.busy--;
    }
  }
}
