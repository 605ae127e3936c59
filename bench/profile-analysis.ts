// Reads V8 .cpuprofile files (written by `node --cpu-prof`) and answers where the time went:
// self time per function and per area (dynakv folder, npm package, node core subsystem, GC),
// as shares of the busy (non-idle) samples. Pure over the parsed JSON apart from reading files.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface SelfTimeRow {
  readonly name: string;
  readonly where: string;
  readonly area: string;
  readonly selfMs: number;
  /** Share of busy (non-idle) time, in %. */
  readonly busyPct: number;
}

export interface ProfileDigest {
  readonly files: readonly string[];
  readonly wallMs: number;
  readonly busyMs: number;
  readonly idleMs: number;
  readonly topFunctions: readonly SelfTimeRow[];
  readonly areas: ReadonlyArray<{ readonly area: string; readonly selfMs: number; readonly busyPct: number }>;
  /** Share of busy samples with at least one frame of the area on the stack (inclusive time). */
  readonly inclusiveAreas: ReadonlyArray<{ readonly area: string; readonly totalMs: number; readonly busyPct: number }>;
  /**
   * dynakv's own functions by inclusive time (the function anywhere on the stack). Async code
   * resumes from the microtask queue, so this covers each function's synchronous part only.
   */
  readonly inclusiveFunctions: ReadonlyArray<{ readonly name: string; readonly where: string; readonly totalMs: number; readonly busyPct: number }>;
  /** Busy time by request stage (STAGES), largest first. */
  readonly stages: ReadonlyArray<{ readonly stage: string; readonly busyMs: number; readonly busyPct: number }>;
}

const ROOT_MARK = '/work/main/';

function shortUrl(url: string): string {
  if (url === '') return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length);
  const src = u.search(/\/(src|bench|bin|sim)\//);
  if (src >= 0) u = u.slice(src + 1);
  else if (u.includes(ROOT_MARK)) u = u.slice(u.indexOf(ROOT_MARK) + ROOT_MARK.length);
  return u;
}

/** The area a frame belongs to: a dynakv folder, an npm package, a node core subsystem, or V8. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'V8: garbage collector';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return 'V8/native: (program)';
    return `native: ${functionName}`;
  }
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
    return `node: ${m?.[1] ?? url}`;
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `npm: ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const m = /\/(src|bench|sim)\/([^/]+)/.exec(url);
  if (m !== null) return `dynakv: ${m[1]}/${m[2]!.replace(/\.ts$/, '')}`;
  return shortUrl(url);
}

/**
 * The stages of a request a CPU budget is split into (issue 15). A sample belongs to the first
 * stage whose rule matches a frame, walking from the sample's own frame towards the root: so the
 * cost of a generic frame (a socket write, a hash, a timer) is charged to the dynakv or library
 * code that called it. Samples with no matching frame are node's runtime (the event loop itself,
 * socket reads before any of our code runs, timers); `(program)` is V8's own work.
 */
export const STAGES: ReadonlyArray<{ readonly stage: string; readonly matches: (frame: CallFrame) => boolean }> = [
  { stage: 'GC', matches: (f) => f.functionName === '(garbage collector)' },
  { stage: 'startup (module loading)', matches: (f) => /^node:internal\/modules\//.test(f.url) },
  // Before HTTP and peer transport: TLS frames sit below them on the stack (the leafmost match wins).
  { stage: 'TLS (encrypt, decrypt, handshakes)', matches: (f) => /^node:(_tls_wrap|tls|internal\/tls\/)/.test(f.url) },
  { stage: 'LMDB (reads, commit hand-off)', matches: (f) => /\/node_modules\/lmdb\/|\/storage\/lmdb-storage\./.test(f.url) },
  { stage: 'Merkle trees (anti-entropy)', matches: (f) => /\/antientropy\//.test(f.url) },
  { stage: 'msgpack encode/decode', matches: (f) => /\/node_modules\/msgpackr\//.test(f.url) },
  { stage: 'context MAC (HMAC-SHA256)', matches: (f) => /\/version\/context\./.test(f.url) },
  { stage: 'versioning (clocks, siblings, records)', matches: (f) => /\/version\//.test(f.url) },
  { stage: 'replica store (cache, group commit)', matches: (f) => /\/replication\/replica-store\./.test(f.url) },
  { stage: 'coordination (routing, quorum)', matches: (f) => /\/replication\/|\/ring\/|\/node\/node\./.test(f.url) },
  { stage: 'peer message validation', matches: (f) => /\/protocol\//.test(f.url) },
  { stage: 'peer transport (frames, sockets)', matches: (f) => /\/transport\//.test(f.url) },
  { stage: 'metrics', matches: (f) => /\/metrics\/|\/node_modules\/prom-client\//.test(f.url) },
  { stage: 'HTTP (parse, route, answer)', matches: (f) => /^node:_http|\/(src|dist)\/api\/|\/node_modules\/(fastify|find-my-way|@fastify)\//.test(f.url) },
  { stage: 'membership, detector, hand-off', matches: (f) => /\/membership\/|\/handoff\//.test(f.url) },
  { stage: 'logging', matches: (f) => /\/node_modules\/(pino|sonic-boom)\/|\/env\/log/.test(f.url) },
];
export const RUNTIME_STAGE = 'node runtime (event loop, socket reads, timers)';
export const V8_STAGE = 'V8 (program)';

/**
 * Restricts the digest to samples taken between fromMs and toMs (epoch ms). A profile's clock is
 * not the epoch: the file's end is pinned to the instant its process was seen to exit, which is
 * off by the few ms the profile took to write.
 */
export interface SampleWindow {
  readonly fromMs: number;
  readonly toMs: number;
  readonly endEpochMsOf: (file: string) => number | undefined;
}

export function digestProfiles(files: readonly string[], top = 25, window?: SampleWindow): ProfileDigest {
  const selfByFrame = new Map<string, { name: string; where: string; area: string; us: number }>();
  const inclusive = new Map<string, number>();
  const inclusiveFn = new Map<string, { name: string; where: string; us: number }>();
  const stageUs = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  let wallUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    wallUs += profile.endTime - profile.startTime;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parentOf = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
    // The areas on each node's stack, computed once per node rather than once per sample.
    const stackAreas = new Map<number, readonly string[]>();
    const stageOfNode = new Map<number, string>();
    const stageOf = (id: number): string => {
      let known = stageOfNode.get(id);
      if (known === undefined) {
        known = byId.get(id)?.callFrame.functionName === '(program)' ? V8_STAGE : RUNTIME_STAGE;
        search: for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
          const frame = byId.get(at)?.callFrame;
          if (frame === undefined) continue;
          for (const rule of STAGES) {
            if (rule.matches(frame)) {
              known = rule.stage;
              break search;
            }
          }
        }
        stageOfNode.set(id, known);
      }
      return known;
    };
    const stackFunctions = new Map<number, ReadonlyArray<{ id: string; name: string; where: string }>>();
    const functionsOnStack = (id: number) => {
      let known = stackFunctions.get(id);
      if (known === undefined) {
        const seen = new Map<string, { id: string; name: string; where: string }>();
        for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
          const frame = byId.get(at)?.callFrame;
          if (frame === undefined || !areaOf(frame).startsWith('dynakv:')) continue;
          const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
          const where = shortUrl(frame.url);
          seen.set(`${name}@${where}`, { id: `${name}@${where}`, name, where });
        }
        known = [...seen.values()];
        stackFunctions.set(id, known);
      }
      return known;
    };
    const areasOnStack = (id: number): readonly string[] => {
      let known = stackAreas.get(id);
      if (known === undefined) {
        const seen = new Set<string>();
        for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
          const frame = byId.get(at)?.callFrame;
          if (frame !== undefined && frame.url !== '') seen.add(areaOf(frame));
        }
        known = [...seen];
        stackAreas.set(id, known);
      }
      return known;
    };
    const { samples, timeDeltas } = profile;
    const endEpochMs = window?.endEpochMsOf(file);
    // Epoch ms of profile time t (µs): the end of the profile is the process's exit.
    const epochOf = (t: number) => (endEpochMs === undefined ? undefined : endEpochMs - (profile.endTime - t) / 1000);
    if (window !== undefined) {
      const from = epochOf(profile.startTime) ?? window.fromMs;
      const to = epochOf(profile.endTime) ?? window.toMs;
      wallUs -= profile.endTime - profile.startTime;
      wallUs += Math.max(0, Math.min(to, window.toMs) - Math.max(from, window.fromMs)) * 1000;
    }
    let t = profile.startTime;
    for (let i = 0; i < samples.length; i++) {
      t += timeDeltas[i] ?? 0;
      // timeDeltas[i] is the gap before sample i; the time a sample stands for is the gap after it.
      const us = timeDeltas[i + 1] ?? timeDeltas[i] ?? 0;
      if (window !== undefined) {
        const at = epochOf(t);
        if (at !== undefined && (at < window.fromMs || at >= window.toMs)) continue;
      }
      const node = byId.get(samples[i]!);
      if (node === undefined) continue;
      totalUs += us;
      const frame = node.callFrame;
      if (frame.functionName === '(idle)') {
        idleUs += us;
        continue;
      }
      const stage = stageOf(node.id);
      stageUs.set(stage, (stageUs.get(stage) ?? 0) + us);
      for (const area of areasOnStack(node.id)) inclusive.set(area, (inclusive.get(area) ?? 0) + us);
      for (const fn of functionsOnStack(node.id)) {
        const row = inclusiveFn.get(fn.id) ?? { name: fn.name, where: fn.where, us: 0 };
        row.us += us;
        inclusiveFn.set(fn.id, row);
      }
      if (frame.url === '') inclusive.set(areaOf(frame), (inclusive.get(areaOf(frame)) ?? 0) + us);
      const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
      // tsx-compiled sources report line 0 for every function: show the file alone then.
      const where = frame.url === '' ? '' : frame.lineNumber > 0 ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : shortUrl(frame.url);
      const id = `${name}@${where}`;
      const row = selfByFrame.get(id) ?? { name, where, area: areaOf(frame), us: 0 };
      row.us += us;
      selfByFrame.set(id, row);
    }
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const rows = [...selfByFrame.values()].sort((a, b) => b.us - a.us);
  const areas = new Map<string, number>();
  for (const r of rows) areas.set(r.area, (areas.get(r.area) ?? 0) + r.us);
  return {
    files,
    wallMs: wallUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    topFunctions: rows.slice(0, top).map((r) => ({ name: r.name, where: r.where, area: r.area, selfMs: r.us / 1000, busyPct: (100 * r.us) / busyUs })),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .map(([area, areaUs]) => ({ area, selfMs: areaUs / 1000, busyPct: (100 * areaUs) / busyUs })),
    inclusiveFunctions: [...inclusiveFn.values()]
      .filter((f) => f.name !== '(anonymous)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, totalMs: f.us / 1000, busyPct: (100 * f.us) / busyUs })),
    stages: [...stageUs]
      .sort((a, b) => b[1] - a[1])
      .map(([stage, us]) => ({ stage, busyMs: us / 1000, busyPct: (100 * us) / busyUs })),
    inclusiveAreas: [...inclusive]
      .sort((a, b) => b[1] - a[1])
      .map(([area, areaUs]) => ({ area, totalMs: areaUs / 1000, busyPct: (100 * areaUs) / busyUs })),
  };
}

/** pid and thread of a default-named profile (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile). */
export function profileProcessOf(file: string): { readonly pid: number; readonly thread: number } | undefined {
  const m = /CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(file);
  return m === null ? undefined : { pid: Number(m[1]), thread: Number(m[2]) };
}

/** Main-thread profiles in dir (thread 0); worker threads such as tsx's loader are left out. */
export function profileFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && profileProcessOf(f)?.thread === 0)
    .map((f) => join(dir, f))
    .sort();
}
