// How long a removed node may still hand its data to this node: its hand-off window, opened when
// this node learned of the removal (by its own monotonic clock, so a wall-clock step cannot
// stretch it), kept through a re-add (the re-added node may hand off what it held before its
// removal), restored from the change log after a restart, and forgotten once closed. While any
// window is open this node purges no tombstone (AntiEntropy asks removedHandoffOpen). Pure: the
// clock is injected; Membership tells it of removals.
import type { Clock } from '../env/clock.ts';
import type { NodeId } from '../env/transport.ts';
import type { ChangeLog } from './change-log.ts';
import { isRingMember, type MemberRecord } from './table.ts';

export class HandoffWindows {
  /** Per node: when this node learned of its removal (monotonic), and the removal's epoch (at most MEMBERS_MAX; closed windows are forgotten). */
  private readonly removals = new Map<NodeId, { readonly atMs: number; readonly epoch: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  /** A node we knew as a member was removed at `epoch`: its window opens now. */
  opened(id: NodeId, epoch: number): void {
    this.removals.set(id, { atMs: this.clock.monotonicMs(), epoch });
  }

  /** Whether we learned of `id`'s removal at `epoch` less than the window ago. */
  isOpen(id: NodeId, epoch: number): boolean {
    const removal = this.removals.get(id);
    return removal !== undefined && removal.epoch === epoch && this.clock.monotonicMs() - removal.atMs < this.windowMs;
  }

  /** Whether any window is open (no tombstone is purged meanwhile); closed ones are forgotten. */
  anyOpen(): boolean {
    let open = false;
    for (const [id, removal] of [...this.removals]) {
      if (this.isOpen(id, removal.epoch)) open = true;
      else if (this.clock.monotonicMs() - removal.atMs >= this.windowMs) this.removals.delete(id);
    }
    return open;
  }

  /**
   * A restart does not close a window: the change log says when (on our wall clock) we learned of
   * each removal, if we knew the node as a member before. The age is read across the restart; a
   * wall-clock step then can shift it, never lengthen the window past windowMs from now.
   */
  restore(records: Iterable<MemberRecord>, log: ChangeLog): void {
    const nowMs = this.clock.nowMs();
    for (const r of records) {
      // A removed node's window, or a re-added one's (its removal was the epoch before).
      const epoch = isRingMember(r) ? r.epoch - 1 : r.epoch;
      const learnedAtMs = log.removalLearnedAtMs(r.id, epoch);
      if (learnedAtMs === undefined) continue;
      const ageMs = nowMs - learnedAtMs;
      if (ageMs >= 0 && ageMs < this.windowMs) this.removals.set(r.id, { atMs: this.clock.monotonicMs() - ageMs, epoch });
    }
  }
}
