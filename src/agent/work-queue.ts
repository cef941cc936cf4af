// The agent's pending work: at most one item of each kind, so nothing queues
// without bound however fast events and requests come. Pure. The rules that
// fold a new request into what is already pending are data, below.
import type { AnyExpectation } from '../verify/expectations.js';
import type { LayoutName } from '../verify/report.js';

/** An answer judged by an expectation the core is not held to (one older than the one held). */
export interface Answer {
  expectation: AnyExpectation;
  requestId: string | null;
}

/** Distinct answers pending at once; a sender not answered asks again. */
export const MAX_ANSWERS = 8;

export type Work =
  /** Observe everything again: a rescan trusts unchanged stats, a full rehash reads every byte. */
  | { kind: 'scan'; full: boolean }
  /** Changed paths (absolute) the watcher reported. */
  | { kind: 'paths'; paths: Set<string> }
  /** A folder was renamed into place: watch afresh. */
  | { kind: 'rewatch' }
  /**
   * Judge and report: `force` reports even an unchanged verdict; `requestId` is the request answered;
   * `layout`: what `force` and `requestId` are for (absent: every layout verified).
   */
  | { kind: 'report'; force: boolean; requestId: string | null; layout?: LayoutName }
  /** Reports judged by other expectations, one each, then the current report again. */
  | { kind: 'answer'; answers: Answer[] }
  | { kind: 'heartbeat' };

export type WorkKind = Work['kind'];
type Of<K extends WorkKind> = Extract<Work, { kind: K }>;

/** Taken in this order: what changes the verdict first, what says so after. */
export const ORDER: readonly WorkKind[] = ['scan', 'paths', 'rewatch', 'report', 'answer', 'heartbeat'];

/** A pending item and a new one of the same kind become one. */
export const MERGE: { readonly [K in WorkKind]: (pending: Of<K>, added: Of<K>) => Of<K> } = {
  // A full rehash asked for is never lost to a rescan asked for after it.
  scan: (a, b) => ({ kind: 'scan', full: a.full || b.full }),
  paths: (a, b) => ({ kind: 'paths', paths: new Set([...a.paths, ...b.paths]) }),
  rewatch: (a) => a,
  // Two requests before we get to them: one report answers both, with the newest request ID;
  // for two layouts, every layout's report does.
  report: (a, b) => {
    const merged: Of<'report'> = { kind: 'report', force: a.force || b.force, requestId: b.requestId ?? a.requestId };
    if (a.layout !== undefined && a.layout === b.layout) merged.layout = a.layout;
    return merged;
  },
  // One answer per expectation (the newest request for it), the newest MAX_ANSWERS of them.
  answer: (a, b) => {
    const fresh = new Set(b.answers.map((x) => x.expectation.sha256));
    const kept = a.answers.filter((x) => !fresh.has(x.expectation.sha256));
    return { kind: 'answer', answers: [...kept, ...b.answers].slice(-MAX_ANSWERS) };
  },
  heartbeat: (a) => a,
};

/** Pending work that makes other pending work pointless: a scan sees every changed path. */
export const ABSORBS: { readonly [K in WorkKind]?: readonly WorkKind[] } = { scan: ['paths'] };

export class WorkQueue {
  private readonly pending = new Map<WorkKind, Work>();

  /** More changed paths than this pending at once become a rescan: one walk is cheaper than thousands of stats. */
  constructor(readonly maxPaths: number) {}

  get size(): number {
    return this.pending.size;
  }

  has(kind: WorkKind): boolean {
    return this.pending.has(kind);
  }

  add(work: Work): void {
    if (ORDER.some((k) => ABSORBS[k]?.includes(work.kind) && this.pending.has(k))) return;
    const before = this.pending.get(work.kind);
    const merged = before ? (MERGE[work.kind] as (a: Work, b: Work) => Work)(before, work) : work;
    if (merged.kind === 'paths' && merged.paths.size > this.maxPaths) {
      this.add({ kind: 'scan', full: false });
      return;
    }
    this.pending.set(work.kind, merged);
    for (const k of ABSORBS[work.kind] ?? []) this.pending.delete(k);
  }

  /** The next piece of work, by ORDER, or null when there is none. */
  take(): Work | null {
    for (const k of ORDER) {
      const w = this.pending.get(k);
      if (w) {
        this.pending.delete(k);
        return w;
      }
    }
    return null;
  }

  /** Takes the pending item of one kind, if any. */
  takeKind<K extends WorkKind>(kind: K): Of<K> | undefined {
    const w = this.pending.get(kind) as Of<K> | undefined;
    this.pending.delete(kind);
    return w;
  }

  clear(): void {
    this.pending.clear();
  }
}
