// What we know about a core, layout by layout: one entry per layout verified
// (Things Graph on Greengrass v1: core-state.ts; Greengrass v2:
// greengrass-v2-state.ts), each with its observation, baseline and
// expectation, changed by full passes and batches and judged by its own judge.
// Which layouts are verified (coreLayout / --layout):
//   thingsgraph-v1, greengrass-v2   that one;
//   auto                            those of the expectations held (the
//                                   expectation's shape decides); with none,
//                                   every layout found on disk; with nothing
//                                   found, Things Graph (whose report then says
//                                   what is missing).
// Decided again at each full pass and whenever an expectation is adopted.
import { stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Config } from '../config/config.js';
import type { HealthProvider } from '../health/provider.js';
import type { Logger } from '../log.js';
import type { Finding } from '../model/findings.js';
import { insideRoot } from '../observe/files.js';
import { findGreengrassV2Roots } from '../observe/greengrass-v2/observe.js';
import type { Hasher } from '../observe/hash.js';
import type { Expectation } from '../verify/expectation.js';
import { isGreengrassV2Expectation, layoutOfExpectation, type AnyExpectation } from '../verify/expectations.js';
import type { GreengrassV2Expectation } from '../verify/greengrass-v2-expectation.js';
import { LAYOUTS, type AnyReport, type LayoutName } from '../verify/report.js';
import type { Verdict } from '../verify/verdict.js';
import { CoreState, type PassKind } from './core-state.js';
import { GreengrassV2State } from './greengrass-v2-state.js';

export interface CoreOptions {
  config: Config;
  hasher: Hasher;
  agentVersion: string;
  /** The expectations held, at most one per layout (a later one of a layout wins). */
  expectations?: readonly AnyExpectation[];
  thing?: string | null;
  now?: () => Date;
  signal?: AbortSignal;
  /** Local health for the Things Graph layout (flow activity, disks, memory). */
  health?: HealthProvider;
  logger?: Logger;
  /** The platform v2 recipes are resolved for (this machine's by default). */
  platform?: { os: string; architecture: string };
}

type Entry = { layout: 'thingsgraph-v1'; state: CoreState } | { layout: 'greengrass-v2'; state: GreengrassV2State };

/** One layout's judgement: what the agent compares and reports. */
export interface LayoutJudgement {
  layout: LayoutName;
  verdict: Verdict;
  /** What the verdict says, in a form to compare: another fingerprint is news worth a report. */
  fingerprint: string;
  nextCheckAt?: Date;
  health?: unknown;
  report(ctx: { sequence: number | null; requestId: string | null }): AnyReport;
}

async function isDir(abs: string): Promise<boolean> {
  return stat(abs).then((s) => s.isDirectory(), () => false);
}

export class Core {
  private readonly entries = new Map<LayoutName, Entry>();
  private readonly held = new Map<LayoutName, AnyExpectation>();

  constructor(private readonly opts: CoreOptions) {
    for (const e of opts.expectations ?? []) this.held.set(layoutOfExpectation(e), e);
  }

  /** The layouts verified now, in a fixed order. */
  get layouts(): LayoutName[] {
    return LAYOUTS.filter((l) => this.entries.has(l));
  }

  /** The expectation held for a layout. */
  expectationFor(layout: LayoutName): AnyExpectation | null {
    return this.held.get(layout) ?? null;
  }

  /** The Things Graph state, when that layout is verified (for what only it knows: group.json's core thing). */
  get thingsGraph(): CoreState | null {
    const e = this.entries.get('thingsgraph-v1');
    return e?.layout === 'thingsgraph-v1' ? e.state : null;
  }

  get greengrassV2(): GreengrassV2State | null {
    const e = this.entries.get('greengrass-v2');
    return e?.layout === 'greengrass-v2' ? e.state : null;
  }

  /**
   * Holds `e` for its layout (null drops the one held for `layout`) and
   * decides the layouts again. True when the layouts verified changed (the
   * watcher then needs other folders).
   */
  async setExpectation(e: AnyExpectation | null, layout: LayoutName = e ? layoutOfExpectation(e) : 'thingsgraph-v1'): Promise<boolean> {
    if (e) this.held.set(layout, e);
    else this.held.delete(layout);
    const entry = this.entries.get(layout);
    if (entry) this.applyExpectation(entry);
    return this.decide();
  }

  /** The folders whose changes matter (absolute), none inside another. */
  watchPaths(): string[] {
    const abs = [...new Set([...this.entries.values()].flatMap((e) => e.state.watchPaths()))];
    return abs.filter((p) => !abs.some((q) => q !== p && p.startsWith(q + sep)));
  }

  noteHeartbeat(at: Date): void {
    for (const e of this.entries.values()) e.state.noteHeartbeat(at);
  }

  /** A full pass of every layout (after deciding which). True when the layouts verified changed. */
  async fullPass(kind: PassKind, opts: { onProgress?: (p: { files: number; bytes: number }) => void } = {}): Promise<{ filesHashed: number; bytesHashed: number; layoutsChanged: boolean }> {
    const layoutsChanged = await this.decide();
    let filesHashed = 0;
    let bytesHashed = 0;
    for (const e of this.entries.values()) {
      const s = await e.state.fullPass(kind, opts);
      filesHashed += s.filesHashed;
      bytesHashed += s.bytesHashed;
    }
    return { filesHashed, bytesHashed, layoutsChanged };
  }

  /** The first pass of a layout added since the last full pass (an expectation of a new layout arrived). */
  async ensureObserved(): Promise<void> {
    for (const e of this.entries.values()) {
      if (e.state.observation === null) await e.state.fullPass('start');
    }
  }

  /** A batch of changed paths (absolute): each layout is given those inside its places. */
  async applyBatch(absPaths: Iterable<string>): Promise<{ bytesHashed: number; rescanned: boolean }> {
    const { root } = this.opts.config;
    const all = [...absPaths];
    const rel = all.map((p) => [p, insideRoot(root, p)] as const).filter((x): x is readonly [string, string] => x[1] !== null);
    let bytesHashed = 0;
    let rescanned = false;
    for (const e of this.entries.values()) {
      if (e.state.observation === null) continue; // its first pass is still to come
      if (e.layout === 'thingsgraph-v1') {
        // Every entry hears of every batch, even one with nothing for it: a baseline laid down
        // by the pass before is from now on compared with, as a fresh pass would say.
        const mine = rel.filter(([, r]) => !this.greengrassV2?.concerns(r) || this.thingsGraphConcerns(r)).map(([a]) => a);
        const b = await e.state.applyBatch(mine);
        bytesHashed += b.bytesHashed;
        rescanned ||= b.rescanned;
      } else {
        const mine = rel.filter(([, r]) => e.state.concerns(r)).map(([, r]) => r);
        const b = await e.state.applyBatch(mine);
        bytesHashed += b.bytesHashed;
        rescanned ||= b.rescanned;
      }
    }
    return { bytesHashed, rescanned };
  }

  /** Judges one layout; `expectation` judges by another one of that layout without holding the core to it. */
  async judge(layout: LayoutName, ctx: { extra?: Finding[]; watcher: string; spoolDepth?: number; expectation?: AnyExpectation | null }): Promise<LayoutJudgement> {
    const e = this.entries.get(layout);
    if (!e) throw new Error(`judge: layout ${layout} is not verified`);
    if (e.layout === 'thingsgraph-v1') {
      const exp = ctx.expectation === undefined ? undefined : ctx.expectation !== null && isGreengrassV2Expectation(ctx.expectation) ? null : (ctx.expectation as Expectation | null);
      const j = await e.state.judge({
        watcher: ctx.watcher,
        ...(ctx.extra ? { extra: ctx.extra } : {}),
        ...(ctx.spoolDepth !== undefined ? { spoolDepth: ctx.spoolDepth } : {}),
        ...(exp !== undefined ? { expectation: exp } : {}),
      });
      return { layout, ...j };
    }
    const exp = ctx.expectation === undefined ? undefined : ctx.expectation !== null && isGreengrassV2Expectation(ctx.expectation) ? ctx.expectation : null;
    const j = e.state.judge({ ...(ctx.extra ? { extra: ctx.extra } : {}), ...(exp !== undefined ? { expectation: exp } : {}) });
    return { layout, ...j };
  }

  /** The thing the reports speak for, when no name was given: group.json's core thing, else the v2 nucleus's. */
  observedThing(): string | null {
    const g = this.thingsGraph?.observation?.group;
    if (g?.state === 'ok' && g.definition.coreThing) return g.definition.coreThing;
    return this.greengrassV2?.nucleusThing() ?? null;
  }

  // A path above or inside the Things Graph places (or outside the v2 root) goes to that layout.
  private thingsGraphConcerns(rel: string): boolean {
    const { layout } = this.opts.config;
    const places = [layout.deploymentDir, ...layout.flowSearchPaths, layout.thingsGraphDir, layout.userLogDir, layout.systemLogDir];
    return places.some((p) => rel === p || rel.startsWith(`${p}/`) || p.startsWith(`${rel}/`));
  }

  private applyExpectation(e: Entry): void {
    const held = this.held.get(e.layout) ?? null;
    if (e.layout === 'thingsgraph-v1') e.state.expectation = held as Expectation | null;
    else e.state.expectation = held as GreengrassV2Expectation | null;
  }

  /** Which layouts to verify now (see the top of this file); entries made or dropped to match. True when that changed. */
  private async decide(): Promise<boolean> {
    const { config } = this.opts;
    let wanted: LayoutName[];
    if (config.coreLayout !== 'auto') wanted = [config.coreLayout];
    else if (this.held.size > 0) wanted = LAYOUTS.filter((l) => this.held.has(l));
    else {
      wanted = [];
      const v1 = (await isDir(join(config.root, config.layout.deploymentDir))) || (await isDir(join(config.root, config.layout.thingsGraphDir)));
      if (v1) wanted.push('thingsgraph-v1');
      if ((await findGreengrassV2Roots(config.root, config.greengrassV2)).length > 0) wanted.push('greengrass-v2');
      if (wanted.length === 0) wanted.push('thingsgraph-v1');
    }
    let changed = false;
    for (const l of LAYOUTS) {
      if (wanted.includes(l) && !this.entries.has(l)) {
        this.entries.set(l, this.make(l));
        changed = true;
      } else if (!wanted.includes(l) && this.entries.delete(l)) {
        changed = true;
      }
    }
    // Map order is insertion order: keep LAYOUTS' order whatever was added when.
    const sorted = LAYOUTS.flatMap((l) => (this.entries.has(l) ? [[l, this.entries.get(l)!] as const] : []));
    this.entries.clear();
    for (const [l, e] of sorted) this.entries.set(l, e);
    return changed;
  }

  private make(layout: LayoutName): Entry {
    const o = this.opts;
    const common = {
      config: o.config, hasher: o.hasher, agentVersion: o.agentVersion,
      ...(o.thing !== undefined ? { thing: o.thing } : {}),
      ...(o.now ? { now: o.now } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    };
    if (layout === 'thingsgraph-v1') {
      return {
        layout,
        state: new CoreState({ ...common, expectation: (this.held.get(layout) as Expectation | undefined) ?? null, ...(o.health ? { health: o.health } : {}) }),
      };
    }
    return {
      layout,
      state: new GreengrassV2State({ ...common, expectation: (this.held.get(layout) as GreengrassV2Expectation | undefined) ?? null, ...(o.platform ? { platform: o.platform } : {}) }),
    };
  }
}

/** One verification, as `deploy-witness verify` runs it: a full pass (every byte read) of each layout, judged. */
export async function verifyCore(
  opts: CoreOptions & { requestId?: string | null; onProgress?: (p: { files: number; bytes: number }) => void },
): Promise<{ layouts: LayoutName[]; verdicts: Verdict[]; reports: AnyReport[] }> {
  const core = new Core(opts);
  await core.fullPass('full', opts.onProgress ? { onProgress: opts.onProgress } : {});
  const verdicts: Verdict[] = [];
  const reports: AnyReport[] = [];
  for (const l of core.layouts) {
    const j = await core.judge(l, { watcher: 'one pass' });
    verdicts.push(j.verdict);
    reports.push(j.report({ sequence: null, requestId: opts.requestId ?? null }));
  }
  return { layouts: core.layouts, verdicts, reports };
}
