// The history of this node's membership table: one entry per change it applied (added,
// removed, down, up, address), newest last, at most `entriesMax` (the oldest go first). Read
// back through persisted.ts, which drops entries that do not parse. Pure: Membership saves it.
import type { ChangeLogEntry } from './table.ts';

export class ChangeLog {
  private list: ChangeLogEntry[] = [];
  /** The sequence number of list[0] (each entry is saved under its own: persisted.ts logKey). */
  private firstSeq = 0;

  constructor(private readonly entriesMax: number) {}

  /** The entries, oldest first (a view: do not keep it across changes). */
  get entries(): readonly ChangeLogEntry[] {
    return this.list;
  }

  /** The entries with the sequence number of the first (the others follow it). */
  withSequences(): { readonly firstSeq: number; readonly entries: readonly ChangeLogEntry[] } {
    return { firstSeq: this.firstSeq, entries: this.list };
  }

  /** Replaces the history with entries read back from disk (the newest `entriesMax`), numbered to end before `nextSeq`. */
  restore(entries: readonly ChangeLogEntry[], nextSeq: number): void {
    this.list = entries.slice(-this.entriesMax);
    this.firstSeq = Math.max(0, nextSeq - this.list.length);
  }

  push(entry: ChangeLogEntry): void {
    this.list.push(entry);
    if (this.list.length > this.entriesMax) {
      const dropped = this.list.length - this.entriesMax;
      this.list.splice(0, dropped);
      this.firstSeq += dropped;
    }
  }

  /**
   * When (our wall clock) we learned that `id` was removed at `epoch`, if we knew it as a member
   * before (an earlier entry about it that is not a removal); else undefined.
   */
  removalLearnedAtMs(id: string, epoch: number): number | undefined {
    let at = this.list.length - 1;
    while (at >= 0 && !(this.list[at]!.node === id && this.list[at]!.change === 'removed' && this.list[at]!.epoch === epoch)) at--;
    if (at < 0) return undefined;
    for (let i = 0; i < at; i++) if (this.list[i]!.node === id && this.list[i]!.change !== 'removed') return this.list[at]!.atMs;
    return undefined;
  }
}
