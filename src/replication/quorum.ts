// Waits for R or W of N replica attempts (Dynamo 4.5): resolves as soon as `needed` succeeded,
// as soon as success has become impossible, or at the deadline, whichever comes first. Late
// replies are not waited for here; callers that want them (read repair) keep the attempts.
import type { Clock } from '../env/clock.ts';

export interface QuorumOutcome<T> {
  /** Successful results in arrival order (at least `needed` when `reached`). */
  readonly ok: readonly T[];
  readonly failed: number;
  readonly reached: boolean;
  readonly timedOut: boolean;
}

export function awaitQuorum<T>(
  attempts: readonly Promise<T>[],
  needed: number,
  clock: Clock,
  timeoutMs: number,
): Promise<QuorumOutcome<T>> {
  return new Promise((resolve) => {
    const ok: T[] = [];
    let failed = 0;
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      resolve({ ok: [...ok], failed, reached: ok.length >= needed, timedOut });
    };
    const timer = clock.setTimer(timeoutMs, () => finish(true));
    const check = () => {
      if (ok.length >= needed || ok.length + (attempts.length - ok.length - failed) < needed) finish(false);
    };
    for (const attempt of attempts) {
      attempt.then(
        (value) => {
          if (settled) return;
          ok.push(value);
          check();
        },
        () => {
          if (settled) return;
          failed++;
          check();
        },
      );
    }
    check();
  });
}
