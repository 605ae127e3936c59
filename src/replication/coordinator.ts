// Coordinates client reads and writes (Dynamo 4.5): finds the key's preference list, sends to
// its N replicas, and answers after R replies (get) or W durable acks (put/delete). Writes are
// coordinated by a node of the preference list, because the new version's dot must come from a
// node that stores the key; any other node forwards the write there. When no replica can take
// it (all down or unreachable, as across a split), the key's first node up past the list
// coordinates it as a fallback, under an actor of its own for the key kept as long as its
// fallback record of the key (see coordinateAsFallback), and stores copies as hints for the
// owners (sloppy quorum). Owns no state of its own.
import { assert } from '../env/assert.ts';
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import { TransportError, type NodeId, type Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { provenNotApplied, RemoteError } from '../transport/remote-error.ts';
import { ringPosition, type Ring } from '../ring/ring.ts';
import { EncodedRecord, RECORD_BYTES_MAX } from '../version/record-codec.ts';
import { clockOf, covers, highestCounterOf, liveSiblings, mergeSiblings, siblingsEqual, type Sibling } from '../version/siblings.ts';
import { prune, type VClock } from '../version/vclock.ts';
import { nodeOfActor, type DotCounter } from './dot-counter.ts';
import { CoordinationError } from './errors.ts';
import { LatencyWindow, SpeculationBudget } from './latency-window.ts';
import { awaitQuorum } from './quorum.ts';
import type { ReplicaStore } from './replica-store.ts';

export interface CoordinatorConfig {
  /** Replicas per key. */
  readonly n: number;
  /** Default read quorum. */
  readonly r: number;
  /** Default write quorum. */
  readonly w: number;
  /** How long a coordinator waits for its quorum before answering QUORUM_FAILED. */
  readonly requestTimeoutMs: number;
  /** Vector clock entries kept per version (Dynamo 4.4 pruning). */
  readonly clockEntriesMax: number;
  /** Live siblings a key may hold; a write that would exceed it is refused. */
  readonly siblingsMax: number;
}

export interface CoordinatorDeps {
  readonly self: NodeId;
  readonly ring: () => Ring;
  readonly store: ReplicaStore;
  readonly dots: DotCounter;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: CoordinatorConfig;
  /** The failure detector's verdict: a node marked down gets no primary request at all. */
  readonly isDown: (id: NodeId) => boolean;
  /** The detector missed the node's last ping: prefer others when any replica will do. */
  readonly isSuspect: (id: NodeId) => boolean;
  /**
   * This node's fallback record of each key: the versions it coordinated as a fallback
   * (coordinateAsFallback) and has not yet handed to every replica of the key. Hint delivery
   * hands a record to the key's replicas and removes it once all of them hold it.
   */
  readonly fallbackRecords: FallbackRecords;
}

/** A key's versions at its replicas: live siblings, versions with tombstones, and record bytes. */
export interface ReplicaLoad {
  readonly live: number;
  readonly versions: number;
  readonly bytes: number;
}

/** See CoordinatorDeps.fallbackRecords (HintDelivery keeps them, as hints this node holds for itself). */
export interface FallbackRecords {
  /** The key's record (writes being committed included); [] when there is none. */
  read(key: string): readonly Sibling[];
  /**
   * What the key's replicas held when this node last handed them its record of the key, or last
   * looked (zero when that was small): a record's bounds count it, so that splits and heals
   * cannot add a record's worth to the key each time.
   */
  replicaLoad(key: string): ReplicaLoad;
  /** This node's own records of the key handed to its replicas since it last measured them (part of replicaLoad). */
  unmeasuredLoad(key: string): ReplicaLoad;
  /** Whether a new record may start: the loads this node keeps are bounded, and none is ever forgotten unmeasured. */
  roomForRecord(): boolean;
  /**
   * Stores `siblings` as the key's record, durably; the caller computed it as a join of read(key)
   * with no await in between. `bytes` must be encodeRecord(siblings).
   */
  replace(key: string, siblings: readonly Sibling[], bytes: Uint8Array): Promise<void>;
}

export interface WriteRequest {
  readonly key: string;
  /** null deletes: the tombstone keeps a clock so the delete wins over what it saw. */
  readonly value: Uint8Array | null;
  readonly contentType: string;
  /** The context the client read; empty for a blind write. */
  readonly context: VClock;
  readonly w?: number;
  /**
   * Set on a forward_put from a node that found every replica down: the receiver, a node past
   * the preference list, coordinates it as a fallback (coordinateAsFallback) if it agrees.
   */
  readonly fallback?: true;
}

export interface ReadResult {
  /** Merged siblings from the replies, tombstones included (the API hides them). */
  readonly siblings: readonly Sibling[];
}

/**
 * A read asks its other replicas no sooner than this after the first R (when they have not all
 * answered): below it, a hiccup of a healthy replica would double the read's peer messages.
 */
export const READ_SPECULATE_MS_MIN = 20;

export class Coordinator {
  /** How long peers take to answer replica reads, for the speculative retry of get(). */
  private readonly readLatency = new LatencyWindow();
  /** Bounds how many reads speculate before the old fixed delay (a quarter of the timeout). */
  private readonly readSpeculation = new SpeculationBudget();

  constructor(private readonly deps: CoordinatorDeps) {}

  preferenceList(key: string): NodeId[] {
    return this.deps.ring().preferenceList(key, this.deps.config.n);
  }

  /** The key's ring position (one MD5) and its preference list in the current ring. */
  private placement(key: string): { position: bigint; preferenceList: NodeId[] } {
    const position = ringPosition(key);
    const ring = this.deps.ring();
    const preferenceList = ring.preferenceListOfPosition(position, this.deps.config.n);
    assert(preferenceList.length === Math.min(this.deps.config.n, ring.size) && allDistinct(preferenceList), () => `preference list of ${JSON.stringify(key)} is not min(N, ring size) distinct nodes: ${preferenceList.join(',')}`);
    return { position, preferenceList };
  }

  /**
   * Reads R replicas first: this node's own (if it is one) and the healthiest others. Only when
   * one of them fails, has not answered within the p99 of recent replica reads (at most a
   * quarter of the timeout), or they disagree are the other replicas asked too, and read repair
   * runs over every answer (Cassandra's way, with its speculative retry): a third fewer peer
   * messages per read than asking all N. R+W>N still holds, since R distinct replicas of the
   * preference list answer every successful read.
   */
  async get(key: string, r: number = this.deps.config.r): Promise<ReadResult> {
    this.checkQuorum('r', r);
    const { self, store, transport, clock, config } = this.deps;
    const { preferenceList } = this.placement(key);
    // Set once the read has its answer. A reply after that (from the replica a speculative retry
    // went around, e.g. a paused one that resumed) is no sample: its stall would raise the p99,
    // and the retry delay, to the very stalls it is for. Sampling only replies that counted biases
    // the p99 low, so a few more reads speculate early; the budget caps that at a tenth.
    let answered = false;
    const ask = async (node: NodeId): Promise<{ node: NodeId; siblings: readonly Sibling[] }> => {
      if (node === self) return { node, siblings: store.read(key) };
      const askedMs = clock.nowMs();
      const reply = await transport.request(node, { kind: 'replica_get', key }, config.requestTimeoutMs);
      if (reply.kind !== 'replica_get_ok') throw new Error(`unexpected reply ${reply.kind} to replica_get`);
      if (!answered) this.readLatency.add(clock.nowMs() - askedMs);
      return { node, siblings: reply.record.siblings };
    };
    try {
      return await this.readQuorum(key, r, preferenceList, ask);
    } finally {
      answered = true;
    }
  }

  private async readQuorum(
    key: string,
    r: number,
    preferenceList: readonly NodeId[],
    ask: (node: NodeId) => Promise<{ node: NodeId; siblings: readonly Sibling[] }>,
  ): Promise<ReadResult> {
    const { clock, config } = this.deps;
    const startedMs = clock.nowMs();
    // Reads still reach a replica believed down when the others fail: our detector may be the
    // one cut off.
    const order = this.healthiestFirst(preferenceList);
    const attempts = order.slice(0, r).map(ask);
    // Speculative retry after the p99 of recent replica reads (a quarter of the timeout at most,
    // and until there is a p99): a paused or cut-off replica the detector has not marked yet
    // costs a read about the p99, not a fixed quarter of the timeout.
    // Early speculation is budgeted (at most a tenth of reads, in bursts): when every replica is
    // slow, asking a third on most reads would add load when there is none to spare.
    this.readSpeculation.earn();
    const latestMs = config.requestTimeoutMs / 4;
    const delayMs = this.readSpeculation.canSpend() ? this.readLatency.p99Within(READ_SPECULATE_MS_MIN, latestMs) : latestMs;
    const first = await settledWithin(attempts, clock, delayMs);
    // Only a retry earlier than the old fixed delay spends the budget.
    if (first === undefined && delayMs < latestMs) this.readSpeculation.spend();
    if (first !== undefined && order.length > r) {
      const answers = first.flatMap((s) => (s.status === 'fulfilled' ? [s.value.siblings] : []));
      if (answers.length === r && answers.every((a) => siblingsEqual(a, answers[0]!))) return { siblings: answers[0]! };
    }
    attempts.push(...order.slice(r).map(ask));
    const outcome = await awaitQuorum(attempts, r, clock, Math.max(0, config.requestTimeoutMs - (clock.nowMs() - startedMs)));
    if (!outcome.reached) throw quorumFailed('read', outcome.ok.length, r, attempts.length);
    let siblings: Sibling[] = [];
    for (const reply of outcome.ok) siblings = mergeSiblings(siblings, reply.siblings);
    void this.readRepair(key, attempts);
    return { siblings };
  }

  /**
   * Read repair (Dynamo 4.7): once every replica answered (or timed out), send the merged
   * versions to those that answered with less. Off the request's path; failures are left to
   * anti-entropy.
   */
  private async readRepair(key: string, attempts: ReadonlyArray<Promise<{ node: NodeId; siblings: readonly Sibling[] }>>): Promise<void> {
    const { self, store, transport, config, log } = this.deps;
    // Every attempt settles within the transport timeout, so this wait is bounded.
    const settled = await Promise.allSettled(attempts);
    const replies = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    let merged: Sibling[] = [];
    for (const reply of replies) merged = mergeSiblings(merged, reply.siblings);
    if (merged.length === 0) return;
    let record: EncodedRecord | undefined;
    for (const reply of replies) {
      if (siblingsEqual(reply.siblings, merged)) continue;
      this.readRepairCount++;
      const repair = reply.node === self
        ? store.merge(key, merged)
        : transport.request(reply.node, { kind: 'replica_put', key, record: (record ??= EncodedRecord.of(merged)) }, config.requestTimeoutMs);
      repair.catch((err: unknown) => log.debug({ key, node: reply.node, err: (err as Error).message }, 'read repair failed'));
    }
  }

  private readRepairCount = 0;
  private hintedWriteCount = 0;
  private fallbackWriteCount = 0;

  /** Writes this node coordinated, and acknowledged, from outside the key's preference list (no replica could). */
  get fallbackWrites(): number {
    return this.fallbackWriteCount;
  }

  /** Replicas repaired by reads since start (for stats and tests). */
  get readRepairs(): number {
    return this.readRepairCount;
  }

  /** Writes that used a hint for a down or silent replica (sloppy quorum). */
  get hintedWrites(): number {
    return this.hintedWriteCount;
  }

  /** Writes (or deletes) and returns the new version's clock once W replicas hold it durably. */
  async put(request: WriteRequest): Promise<VClock> {
    const w = request.w ?? this.deps.config.w;
    this.checkQuorum('w', w);
    const placement = this.placement(request.key);
    if (placement.preferenceList.includes(this.deps.self)) return this.coordinate(placement, request, w);
    // A fallback write needs W nodes up here. Without that (this node is cut off, or its detector
    // lags a heal), replicas marked down are still tried, last, as the only way the write can go.
    // (Counted only when a replica is down: the common forward pays nothing for it.)
    const skipDown = placement.preferenceList.some((id) => this.deps.isDown(id)) && this.fallbackNodesUp(placement) >= w;
    const forwarded = await this.forward(placement.preferenceList, request, w, skipDown);
    if (forwarded.done) return forwarded.clock;
    if (!forwarded.split) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key could coordinate the write (${forwarded.why}); it was not applied`);
    }
    const nodesUp = this.fallbackNodesUp(placement);
    if (nodesUp < w) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key could coordinate the write (${forwarded.why}), and too few other nodes are up to hold it for them (${nodesUp} of W=${w}); it was not applied`);
    }
    const funnelled = await this.funnel(placement, request, w, forwarded.why);
    if (funnelled.done) return funnelled.clock;
    // The key's fallback node refused it unapplied because it sees a replica up: this node's
    // detector may lag a heal, so the replicas it skipped as down are tried after all.
    const retried = await this.forward(placement.preferenceList.filter((id) => this.deps.isDown(id)), request, w, false);
    if (retried.done) return retried.clock;
    throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key could coordinate the write (${forwarded.why}, ${funnelled.why}, then ${retried.why}); it was not applied`);
  }

  /**
   * Sends a write no replica can take to the key's first fallback node up (the first past the
   * preference list, clockwise), which coordinates it as a fallback: every fallback write of a
   * key on one side of a split then merges on one node, whose bounds hold for all of them. That
   * is this node itself, or the next one up if the first refused it unread.
   */
  private async funnel(placement: { position: bigint; preferenceList: readonly NodeId[] }, request: WriteRequest, w: number, why: string): Promise<{ done: true; clock: VClock } | { done: false; why: string }> {
    const { self, transport, config, isDown } = this.deps;
    const failures: string[] = [];
    for (const node of this.fallbacksFor(placement.position, placement.preferenceList)) {
      if (node !== self && isDown(node)) continue;
      if (node === self) return { done: true, clock: await this.coordinateAsFallback(placement, request, w, why) };
      let reply: PeerReply;
      try {
        reply = await transport.request(node, forwardPut(request, w, true), 2 * config.requestTimeoutMs);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        // Codes only: the client sees this list.
        failures.push(`${node}: ${err instanceof RemoteError ? err.remoteCode : err.code}`);
        if (provenNotApplied(err)) continue;
        if (err.code !== 'TIMEOUT') this.deps.log.debug({ node, key: request.key, err: err.message }, 'fallback forward failed after it may have been applied');
        const what = err.code === 'TIMEOUT' ? 'did not answer in time' : `failed (${err instanceof RemoteError ? err.remoteCode : err.code})`;
        throw new CoordinationError('QUORUM_FAILED', `fallback coordinator ${node} ${what}; the write may or may not have been applied`);
      }
      // It refused unapplied (it sees a replica of the key up, or has too few nodes up).
      if (reply.kind === 'forward_put_failed' && reply.code === 'COORDINATOR_UNREACHABLE') return { done: false, why: `fallback ${node}: refused` };
      return { done: true, clock: forwardReply(node, reply) };
    }
    throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key could coordinate the write (${why}), nor a node past them (${failures.join(', ')}); it was not applied`);
  }

  /**
   * Handles a write forwarded by another node: coordinate here, never forward again. One marked
   * `fallback` is taken as a fallback coordinator only if this node too holds every replica down
   * and has W nodes up; otherwise it is refused, unapplied.
   */
  async putForwarded(request: WriteRequest): Promise<VClock> {
    const w = request.w ?? this.deps.config.w;
    this.checkQuorum('w', w);
    const placement = this.placement(request.key);
    const { self, isDown } = this.deps;
    if (placement.preferenceList.includes(self)) return this.coordinate(placement, request, w);
    if (request.fallback !== true) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `node ${self} is not a replica of this key in its ring view`);
    }
    const up = placement.preferenceList.filter((id) => !isDown(id));
    if (up.length > 0) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `node ${self} holds replicas of this key up (${up.join(', ')}): it takes no fallback write of it; it was not applied`);
    }
    const nodesUp = this.fallbackNodesUp(placement);
    if (nodesUp < w) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `node ${self} has too few nodes up to hold a fallback write (${nodesUp} of W=${w}); it was not applied`);
    }
    return this.coordinateAsFallback(placement, request, w, 'forwarded as a fallback write');
  }

  private async coordinate(placement: { position: bigint; preferenceList: readonly NodeId[] }, request: WriteRequest, w: number): Promise<VClock> {
    const { preferenceList } = placement;
    const { self, store, dots, transport, clock, config, log } = this.deps;
    assert(preferenceList.includes(self), () => `${self} coordinates a write to ${JSON.stringify(request.key)} it does not replicate`);
    assert(Number.isSafeInteger(w) && w >= 1, () => `W=${w} is not a count (checkQuorum passed it)`);
    const { key, value, contentType, context } = request;
    // Counters come from this incarnation's lease alone, never from what a request carries:
    // contexts are authenticated at the API, and a dot is new because the lease is.
    const counter = await dots.take();
    const current = store.read(key);
    // Every counter this actor issued is below `counter`, so nothing stored or sent can have
    // seen it. If something claims to, the new version would be born superseded and silently
    // lost: refuse the write instead of acknowledging it.
    const seen = highestCounterOf(dots.actor, current, context);
    if (seen >= counter) {
      log.error({ key, actor: dots.actor, seen, counter }, 'stored versions claim a dot this node never issued');
      throw new CoordinationError('CLOCK_AHEAD', `versions of this key claim ${dots.actor}:${seen}, a dot this node has not issued (next is ${counter})`);
    }
    // Pruning keeps the entries that cover a stored sibling the context saw: dropping one would
    // leave that sibling beside the new version, so a delete would not remove what it saw, and
    // the same entry would be pruned again on every retry (the oldest entry is exactly the one
    // of a long-standing sibling, and lost disks add actors).
    const covering = new Set(current.filter((s) => covers(context, s.dot)).map((s) => s.dot.node));
    const sibling: Sibling = {
      dot: { node: dots.actor, counter, timeMs: clock.nowMs() },
      // One entry is left for the dot itself, so the full clock stays within clockEntriesMax
      // (unless more are needed to cover what the context saw).
      context: prune(context, config.clockEntriesMax - 1, covering),
      value,
      contentType,
    };
    const merged = mergeSiblings(current, [sibling]);
    // Nothing stored has seen the new dot (checked above), so the merge keeps it.
    assert(merged.some((s) => s.dot.node === dots.actor && s.dot.counter === counter), () => `the new version ${dots.actor}:${counter} of ${JSON.stringify(key)} did not survive its own merge`);
    if (value !== null && liveSiblings(merged).length > config.siblingsMax) {
      throw new CoordinationError(
        'TOO_MANY_SIBLINGS',
        `key has ${liveSiblings(merged).length - 1} siblings (at most ${config.siblingsMax}); read it and write back with its context to resolve them`,
      );
    }
    // A write that covers none of the versions only adds one beside them. Blind deletes of one
    // key piled tombstones up without bound (simulator harsh seed 58966), and every merge and
    // answer of the key grew with them; blind puts then added their own 64 beside those. Past
    // the bound, counting tombstones, only a write that covers some of them passes, so a client
    // can still always resolve the key.
    if (merged.length > current.length && merged.length > config.siblingsMax) {
      throw new CoordinationError(
        'TOO_MANY_SIBLINGS',
        `key has ${current.length} versions, tombstones included (at most ${config.siblingsMax}), and this ${value === null ? 'delete' : 'write'} covers none of them; read it and write back with its context`,
      );
    }
    // The coordinator commits first and then ships its whole merged state, not just the new
    // version (as Riak does). A version vector entry n:k promises "all of n's events up to k";
    // that holds on every replica only if whoever receives dot n:k also receives whatever n held
    // of its earlier dots. Shipping the lone sibling broke this, and the simulator found the
    // lost update (a reader of the new sibling alone got a context covering an unseen one).
    // The local commit must also be durable before any other replica sees the dot: a dot that
    // lives on another replica but not on this node's disk is covered by this node's next
    // version of the key, whose clock claims every earlier dot of this actor. That dot's
    // version carried acknowledged writes it superseded, and they vanished with it (the
    // simulator found it: harsh seed 4, a coordinator with a full disk whose write landed on
    // one replica). So this node's replica is written first, and only then the others.
    // Encoded once: the same bytes go to the local commit and, verbatim, to every replica.
    const record = EncodedRecord.of(merged);
    // Deletes always pass, so a client can always resolve an oversized key.
    if (value !== null && record.bytes.length > RECORD_BYTES_MAX) {
      throw new CoordinationError(
        'RECORD_TOO_LARGE',
        `with this write the key's versions would take ${record.bytes.length} bytes (at most ${RECORD_BYTES_MAX}); read it and write back with its context to resolve its siblings`,
      );
    }
    const startedMs = clock.nowMs();
    const localCommit = (await settledWithin([store.replace(key, merged, record.bytes)], clock, config.requestTimeoutMs))?.[0];
    if (localCommit?.status !== 'fulfilled') {
      // Nothing was sent, so no other replica holds the dot. After a timeout the local commit
      // may still land: the version then lives on this node alone, unacknowledged.
      if (localCommit === undefined) {
        throw new CoordinationError('QUORUM_FAILED', `the coordinator's own replica did not commit in time; the write may or may not have been applied`, { ok: 0, needed: w });
      }
      const why = localCommit.reason instanceof Error ? localCommit.reason.message : String(localCommit.reason);
      // One line per failed write would flood the log of a full disk; the client gets the reason.
      log.debug({ key, err: why }, 'local commit failed; write refused before any replica saw it');
      throw new CoordinationError('QUORUM_FAILED', `the coordinator's own replica failed: ${why}; no other replica was sent the write`, { ok: 0, needed: w });
    }
    // Fallbacks are computed only if some replica needs a hint, and shared so that each serves
    // one owner.
    let fallbacks: NodeId[] | undefined;
    const fallbacksNow = () => (fallbacks ??= this.fallbacksFor(placement.position, preferenceList));
    const attempts = preferenceList.map(async (node): Promise<NodeId> => {
      if (node === self) return node;
      if (!this.deps.isDown(node) || fallbacksNow().length === 0) {
        try {
          // Half the budget for the primary, so a silent one still leaves time for its hint.
          const reply = await transport.request(node, { kind: 'replica_put', key, record }, config.requestTimeoutMs / 2);
          if (reply.kind === 'replica_put_ok') return node;
        } catch {
          // fall through to a hint
        }
      }
      return this.hint(node, key, record, fallbacksNow());
    });
    const outcome = await awaitQuorum(attempts, w, clock, Math.max(0, config.requestTimeoutMs - (clock.nowMs() - startedMs)));
    if (!outcome.reached) throw quorumFailed('write', outcome.ok.length, w, attempts.length);
    return clockOf(sibling);
  }

  /** This node first if it is in `nodes`, then those neither down nor suspect, then suspects, then down. */
  private healthiestFirst(nodes: readonly NodeId[]): NodeId[] {
    const { self, isDown, isSuspect } = this.deps;
    // A stable bucket sort of N nodes into 4 ranks, each rank asked of the detector once per node.
    const ranks = nodes.map((id) => (id === self ? 0 : isDown(id) ? 3 : isSuspect(id) ? 2 : 1));
    const ordered: NodeId[] = [];
    for (let rank = 0; rank <= 3; rank++) for (let i = 0; i < nodes.length; i++) if (ranks[i] === rank) ordered.push(nodes[i]!);
    return ordered;
  }

  /** Nodes past the preference list, clockwise, those not believed down first. */
  private fallbacksFor(position: bigint, preferenceList: readonly NodeId[]): NodeId[] {
    const ring = this.deps.ring();
    const beyond = ring.preferenceListOfPosition(position, ring.size).filter((id) => !preferenceList.includes(id));
    return [...beyond.filter((id) => !this.deps.isDown(id)), ...beyond.filter((id) => this.deps.isDown(id))];
  }

  /**
   * Sloppy quorum (Dynamo 4.6): hands the owner's copy to the next healthy node beyond the
   * preference list, which stores it durably as a hint and acknowledges. Each fallback serves
   * one owner per write (shift), so two down replicas use two different fallbacks.
   */
  private async hint(owner: NodeId, key: string, record: EncodedRecord, fallbacks: NodeId[]): Promise<NodeId> {
    const { transport, config } = this.deps;
    for (let target = fallbacks.shift(); target !== undefined; target = fallbacks.shift()) {
      try {
        const reply = await transport.request(target, { kind: 'hint_put', owner, key, record }, config.requestTimeoutMs / 2);
        if (reply.kind === 'replica_put_ok') {
          this.hintedWriteCount++;
          return target;
        }
      } catch {
        // try the next fallback
      }
    }
    throw new Error(`no node could hold a hint for ${owner}`);
  }

  /**
   * Hands the write to a replica of the key to coordinate. Resolves `done: false` only when it
   * is known that no replica applied it: each was believed down (and not sent it), or refused
   * it unread; `split` when each was down or unreachable (not merely busy or not ready), the
   * one case a fallback coordinator may take the write. Any answer or ambiguous failure of a
   * replica is final.
   */
  private async forward(preferenceList: readonly NodeId[], request: WriteRequest, w: number, skipDown: boolean): Promise<{ done: true; clock: VClock } | { done: false; why: string; split: boolean }> {
    const { transport, config, log, isDown } = this.deps;
    // The coordinator needs its own quorum wait plus the hop; allow both before giving up.
    const timeoutMs = 2 * config.requestTimeoutMs;
    const failures: string[] = [];
    let split = true;
    // A forward cannot be retried after a timeout, so a replica that just missed a ping (one
    // that is paused or cut off, before the detector marks it down) goes after the healthy ones,
    // and one marked down is not sent it at all: on the far side of a split it would hold the
    // write until the timeout, and leave it ambiguous, where a fallback coordinator can take it.
    const ordered = this.healthiestFirst(preferenceList);
    const skipped = skipDown ? ordered.filter((node) => isDown(node)) : [];
    const attempt = async (node: NodeId): Promise<VClock | undefined> => {
      let reply: PeerReply;
      try {
        reply = await transport.request(node, forwardPut(request, w, false), timeoutMs);
      } catch (err) {
        // Only a request that never left (UNREACHABLE, OVERLOADED here) or that the peer refused
        // unread (NOT_READY: it restarted and has not heard the table yet) proves that node did
        // not apply the write. After a timeout it may have, and retrying elsewhere would create a
        // second version of the same write, which a delete of what the client read would not
        // cover (the simulator found exactly that resurrection). The client gets a 503 instead.
        if (!(err instanceof TransportError)) throw err;
        // Codes only: the client sees this list, and a peer's message names its table's state.
        failures.push(`${node}: ${err instanceof RemoteError ? err.remoteCode : err.code}`);
        // An overloaded, not-ready or refusing replica is reachable: a fallback write would
        // take the write from replicas that can be read, and add load when there is none.
        if (err.code !== 'UNREACHABLE') split = false;
        if (provenNotApplied(err)) {
          log.debug({ node, key: request.key, err: err.message }, 'forward target took nothing, trying the next replica');
          return undefined;
        }
        // The peer's own message stays in this node's log: it may name internals a client need not see.
        if (err.code !== 'TIMEOUT') log.debug({ node, key: request.key, err: err.message }, 'forward failed after it may have been applied');
        const what = err.code === 'TIMEOUT' ? 'did not answer in time' : `failed (${err instanceof RemoteError ? err.remoteCode : err.code})`;
        throw new CoordinationError('QUORUM_FAILED', `coordinator ${node} ${what}; the write may or may not have been applied`);
      }
      return forwardReply(node, reply);
    };
    for (const node of ordered) {
      if (skipped.includes(node)) continue;
      const clock = await attempt(node);
      if (clock !== undefined) return { done: true, clock };
    }
    // No fallback will take it (a replica is reachable but refused it unread): the replicas
    // marked down are tried last after all, since the detector may be wrong about them.
    if (!split) {
      for (const node of skipped) {
        const clock = await attempt(node);
        if (clock !== undefined) return { done: true, clock };
      }
    } else {
      for (const node of skipped) failures.push(`${node}: down`);
    }
    return { done: false, why: failures.join(', '), split };
  }

  /** This node and the nodes past the key's preference list that its detector holds up. */
  private fallbackNodesUp(placement: { position: bigint; preferenceList: readonly NodeId[] }): number {
    const { self, isDown } = this.deps;
    return 1 + this.fallbacksFor(placement.position, placement.preferenceList).filter((id) => id !== self && !isDown(id)).length;
  }

  /**
   * Sloppy quorum for a write no replica of the key can coordinate (Dynamo 4.6: a write goes to
   * the first N healthy nodes past the down ones): every replica is down by this node's
   * detector or unreachable, as on the side of a split that holds none of the key's replicas,
   * and W nodes are up here (checked by the caller).
   *
   * The dot. An entry a:k in a context promises every earlier version of actor a, so a version's
   * actor must travel with every earlier version of it not yet superseded, as coordinate() ships
   * its whole replica. This node holds none of the key's replicas, so it writes as an actor of
   * its own for the key, `<node>#<fresh epoch>`, and keeps every version of that actor in its
   * fallback record of the key: each write merges into the record and ships all of it. The actor
   * lives exactly as long as the record: while the record exists it is reused, so a side's writes
   * of a key add one actor to it, not one per write (one-shot actors grew contexts past what a
   * client may send back, and made keys unresolvable); once hint delivery has handed the record
   * to every replica and removed it, the next fallback write starts a new record and a new actor,
   * because versions of the old one now live where this node cannot see them.
   *
   * The record is committed first (the actor's versions must be on this node before anywhere
   * else, as coordinate() commits its replica first); then copies go, as hints for the other
   * owners, to the nodes past the preference list. It is acknowledged once W copies are
   * durable, this node's own record counting as one.
   */
  private async coordinateAsFallback(placement: { position: bigint; preferenceList: readonly NodeId[] }, request: WriteRequest, w: number, why: string): Promise<VClock> {
    const { self, dots, clock, config, log, fallbackRecords } = this.deps;
    const { preferenceList } = placement;
    assert(!preferenceList.includes(self), () => `${self} is a replica of ${JSON.stringify(request.key)}: it coordinates, not falls back`);
    const { key, value, contentType, context } = request;
    // Not pruned: pruning without the key's versions could drop the entry of one the context
    // saw, so a delete would leave it. So the context must leave room for the new dot, or a
    // context returned longer than a client may send back would leave the key unresolvable.
    if (context.length >= config.clockEntriesMax) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key is up here, and its context already has ${context.length} entries (at most ${config.clockEntriesMax - 1} for a write coordinated past the replicas, which cannot prune it); write it again once a replica answers; it was not applied`);
    }
    const counter = await dots.take();
    // From here to the record's replace, nothing awaits: the record read is the one replaced.
    const current = fallbackRecords.read(key);
    const actors = new Set(current.map((s) => s.dot.node));
    if (actors.size > 1 || [...actors].some((a) => nodeOfActor(a) !== self || a === dots.actor)) {
      log.error({ key, actors: [...actors] }, 'fallback record holds versions of other actors');
      throw new CoordinationError('QUORUM_FAILED', `this node's fallback record of the key holds versions of ${actors.size} actors, not one of its own; it was not applied`);
    }
    const actor = current.length > 0 ? current[0]!.dot.node : dots.freshActor();
    // As coordinate(): every counter of the lease below `counter` went to earlier writes, so
    // nothing can have seen it; something that claims to would bury the new version.
    const seen = highestCounterOf(actor, current, context);
    if (seen >= counter) {
      log.error({ key, actor, seen, counter }, 'a context claims a dot this node never issued');
      throw new CoordinationError('CLOCK_AHEAD', `versions of this key claim ${actor}:${seen}, a dot this node has not issued (next is ${counter})`);
    }
    const sibling: Sibling = { dot: { node: actor, counter, timeMs: clock.nowMs() }, context, value, contentType };
    const merged = mergeSiblings(current, [sibling]);
    assert(merged.some((s) => s.dot.node === actor && s.dot.counter === counter), () => `the fallback version ${actor}:${counter} of ${JSON.stringify(key)} did not survive its own merge`);
    // The replica's bounds (coordinate() applies them to the replica), twice over. This node
    // cannot see the replicas, and each record it hands them adds to what they hold; so the record
    // plus what they held when last seen (its load) stays within each bound. And any node past
    // the list may be a key's fallback coordinator in some split, each with its own record and
    // load, so what each hands them while the key is not measured small stays within its share
    // of each bound: all of them together then add at most one bound's worth to the last small
    // measurement (reviews of 75e69cd, 80ae66e, 4151fc6 and 5c9828d).
    const load = fallbackRecords.replicaLoad(key);
    const unmeasured = fallbackRecords.unmeasuredLoad(key);
    const candidates = Math.max(1, this.deps.ring().size - config.n);
    const share = (bound: number) => Math.max(1, Math.floor(bound / candidates));
    if (value !== null && value.length > share(RECORD_BYTES_MAX)) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key is up here, and a value of ${value.length} bytes is more than a node past the replicas may hold for them (${share(RECORD_BYTES_MAX)}); write it again once a replica answers; it was not applied`);
    }
    const liveHere = liveSiblings(merged).length;
    const live = load.live + liveHere;
    if (value !== null && (live > config.siblingsMax || unmeasured.live + liveHere > share(config.siblingsMax))) {
      throw new CoordinationError('TOO_MANY_SIBLINGS', `no replica of the key is up here, and with this write the key would have ${live} siblings, ${liveHere} of them held here and ${unmeasured.live} handed from here since its replicas were last measured small, counting ${load.live} its replicas held when last seen (at most ${config.siblingsMax}, and ${share(config.siblingsMax)} from one node past the replicas); once a replica answers, read the key and write back with its context`);
    }
    const versions = load.versions + merged.length;
    if (merged.length > current.length && (versions > config.siblingsMax || unmeasured.versions + merged.length > share(config.siblingsMax))) {
      throw new CoordinationError('TOO_MANY_SIBLINGS', `no replica of the key is up here, and the key would have ${versions} versions, tombstones included, ${merged.length} of them held here and ${unmeasured.versions} handed from here since its replicas were last measured small, counting ${load.versions} its replicas held when last seen (at most ${config.siblingsMax}, and ${share(config.siblingsMax)} from one node past the replicas); this ${value === null ? 'delete' : 'write'} covers none of those held here; once a replica answers, read the key and write back with its context`);
    }
    const record = EncodedRecord.of(merged);
    const bytes = load.bytes + record.bytes.length;
    if (value !== null && (bytes > RECORD_BYTES_MAX || unmeasured.bytes + record.bytes.length > share(RECORD_BYTES_MAX))) {
      throw new CoordinationError('RECORD_TOO_LARGE', `no replica of the key is up here, and with this write its versions would take ${bytes} bytes, ${record.bytes.length} of them held here and ${unmeasured.bytes} handed from here since its replicas were last measured small, counting ${load.bytes} its replicas held when last seen (at most ${RECORD_BYTES_MAX}, and ${share(RECORD_BYTES_MAX)} from one node past the replicas); once a replica answers, read the key and write back with its context`);
    }
    if (current.length === 0 && !fallbackRecords.roomForRecord()) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `no replica of the key is up here, and this node keeps as many fallback records and loads as it may; write it again once a replica answers; it was not applied`);
    }
    log.debug({ key, actor, why }, 'no replica of the key can coordinate; coordinating as a fallback');
    const startedMs = clock.nowMs();
    const own = (await settledWithin([fallbackRecords.replace(key, merged, record.bytes)], clock, config.requestTimeoutMs))?.[0];
    if (own?.status !== 'fulfilled') {
      if (own === undefined) throw new CoordinationError('QUORUM_FAILED', `no replica of the key is up here, and this node's own copy did not commit in time; the write may or may not have been applied`, { ok: 0, needed: w });
      const reason = own.reason instanceof Error ? own.reason.message : String(own.reason);
      throw new CoordinationError('QUORUM_FAILED', `no replica of the key is up here, and this node's own copy failed: ${reason}; no other node was sent the write`, { ok: 0, needed: w });
    }
    // Copies for the other owners (the first owner's is this node's record), the healthiest
    // nodes past the list first; each node takes one.
    const fallbacks = this.fallbacksFor(placement.position, preferenceList).filter((id) => id !== self);
    const attempts: Array<Promise<NodeId>> = [Promise.resolve(self), ...preferenceList.slice(1).map((owner) => this.hint(owner, key, record, fallbacks))];
    const outcome = await awaitQuorum(attempts, w, clock, Math.max(0, config.requestTimeoutMs - (clock.nowMs() - startedMs)));
    if (!outcome.reached) {
      throw new CoordinationError('QUORUM_FAILED', `no replica of the key is up here, and only ${outcome.ok.length} of ${w} nodes holding it for them confirmed in time; the write may or may not have been applied`, { ok: outcome.ok.length, needed: w });
    }
    this.fallbackWriteCount++;
    return clockOf(sibling);
  }

  private checkQuorum(name: 'r' | 'w', value: number): void {
    const { n } = this.deps.config;
    if (!Number.isInteger(value) || value < 1 || value > n) {
      throw new CoordinationError('BAD_QUORUM', `${name} must be an integer from 1 to ${n}, got ${value}`);
    }
  }
}

/** Whether no node appears twice (a preference list is N long: pairwise, without a Set per request). */
function allDistinct(nodes: readonly NodeId[]): boolean {
  for (let i = 1; i < nodes.length; i++) if (nodes.lastIndexOf(nodes[i - 1]!) !== i - 1) return false;
  return true;
}

/** The settled attempts if all settle within `ms`; undefined otherwise. */
function settledWithin<T>(attempts: readonly Promise<T>[], clock: Clock, ms: number): Promise<PromiseSettledResult<T>[] | undefined> {
  // Promise.allSettled and a race, by hand: one promise per call instead of three on every read.
  return new Promise((resolve) => {
    if (attempts.length === 0) return resolve([]);
    const settled: PromiseSettledResult<T>[] = new Array<PromiseSettledResult<T>>(attempts.length);
    let left = attempts.length;
    const timer = clock.setTimer(ms, () => resolve(undefined));
    const done = (i: number, result: PromiseSettledResult<T>) => {
      settled[i] = result;
      if (--left > 0) return;
      timer.cancel();
      resolve(settled);
    };
    attempts.forEach((attempt, i) => attempt.then((value) => done(i, { status: 'fulfilled', value }), (reason: unknown) => done(i, { status: 'rejected', reason })));
  });
}

/** The forward_put of a client's write: its fields only, never more of what the caller passed. */
function forwardPut(request: WriteRequest, w: number, fallback: boolean): PeerRequest {
  const { key, value, contentType, context } = request;
  return { kind: 'forward_put', key, value, contentType, context, w, ...(fallback ? { fallback: true as const } : {}) };
}

/** The clock a forward_put's reply carries; a failure it reports, thrown as it was raised there. */
function forwardReply(node: NodeId, reply: PeerReply): VClock {
  switch (reply.kind) {
    case 'forward_put_ok':
      return reply.context;
    case 'forward_put_failed':
      throw new CoordinationError(
        isCoordinationCode(reply.code) ? reply.code : 'QUORUM_FAILED',
        reply.message,
        reply.ok !== undefined && reply.needed !== undefined ? { ok: reply.ok, needed: reply.needed } : undefined,
      );
    default:
      throw new CoordinationError('QUORUM_FAILED', `coordinator ${node} answered ${reply.kind} to forward_put`);
  }
}

function quorumFailed(op: 'read' | 'write', ok: number, needed: number, asked: number): CoordinationError {
  return new CoordinationError(
    'QUORUM_FAILED',
    `${op} quorum not reached: ${ok} of ${asked} replicas answered in time, ${needed} needed`,
    { ok, needed },
  );
}

function isCoordinationCode(code: string): code is CoordinationError['code'] {
  return (
    code === 'QUORUM_FAILED' ||
    code === 'BAD_QUORUM' ||
    code === 'TOO_MANY_SIBLINGS' ||
    code === 'COORDINATOR_UNREACHABLE' ||
    code === 'RECORD_TOO_LARGE' ||
    code === 'CLOCK_AHEAD' ||
    code === 'NOT_A_MEMBER'
  );
}
