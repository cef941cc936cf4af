// The state of one check: which device answered what, and what is still to
// be sent. Pure and synchronous: the exchange feeds it messages and asks it
// what to send; rows and the verdict are read from it. One map lookup per
// message, no timers, so a thousand devices cost a thousand small records.
//
// Which reports count:
// - the thing in the topic (`<prefix>/<thing>/report`) equals `report.thing`
//   (the AWS IoT policy in README keeps a device to its own topics);
// - its expectation.sha256 is that of an envelope sent (or, for a refusal, it
//   echoes the envelope's requestId with EXPECTATION_INVALID);
// - found by group: the group it observes is the deployment's, so no device can
//   answer for a group it is not in (Greengrass v2: the deployment's thing
//   group is among the targets it says it belongs to, or, for a thing target,
//   it is that thing). Named with --thing: the thing's word counts whatever it
//   observes (another group is then its answer);
// - it is of the layout asked about: a core verifying both layouts sends a
//   report of each, and only one can be an answer.
// A v1 group has one core, so its slot is complete once that core said its
// final word. Who belongs to a v2 thing group is not known here: its slot
// stays open for more devices until the timeout (or, with --first-answer,
// until every device heard from gave its first word); name the cores with
// --thing to know when all of them answered.
// A newer report (higher sequence) from the same device replaces its word:
// right after a deploy call the device usually has not received the deployment
// yet, and says VERIFIED only once it landed.
import { thingOfReportTopic } from '../report/protocol.js';
import { isNewer, readAnswer, type Answer } from './answer.js';
import type { AnyTarget, Plan } from './plan.js';

export interface Outgoing {
  topic: string;
  payload: string;
  kind: 'expectation' | 'probe';
  /** What it is for (a group slot, a thing's probe or expectation): see wanted(). */
  ref: string;
}

/** One device's word about one target. */
export interface DeviceWord {
  thing: string;
  /** The newest report judged by the envelope sent. */
  answer: Answer | null;
  /** A report echoing the request with EXPECTATION_INVALID (and no answer since). */
  refusal: Answer | null;
}

/** Found by group: one per deployment; the devices that answered for it. */
export interface GroupSlot {
  target: AnyTarget;
  devices: Map<string, DeviceWord>;
}

/** Named with --thing: one per thing. */
export interface ThingSlot {
  thing: string;
  /** Set at once for a single deployment; otherwise chosen by the group the thing reports. */
  target: AnyTarget | null;
  /** Several deployments: the report/get that asks which group the thing observes. */
  probe: { requestId: string; topic: string } | null;
  /** The thing observes a group no deployment in the input is for (its probe answer). */
  otherGroup: { answer: Answer } | null;
  word: DeviceWord;
}

export interface SessionStats {
  /** Reports on the filter that were not answers (other devices, old reports). */
  ignored: number;
  /** Reports whose topic thing differs from report.thing: never counted. */
  impostors: number;
  /** Answers for a group from a device that observes another group: never counted. */
  foreignGroup: number;
}

export interface Progress {
  targets: number;
  answered: number;
  verified: number;
  silent: number;
}

export class CheckSession {
  readonly groups: GroupSlot[] = [];
  readonly thingSlots: ThingSlot[] = [];
  readonly stats: SessionStats = { ignored: 0, impostors: 0, foreignGroup: 0 };
  private readonly bySha = new Map<string, AnyTarget>();
  private readonly byRequest = new Map<string, AnyTarget>();
  private readonly groupOf = new Map<AnyTarget, GroupSlot>();
  private readonly byThing = new Map<string, ThingSlot>();
  private readonly targetByGroup = new Map<string, AnyTarget>();

  constructor(
    readonly plan: Plan,
    private readonly opts: { firstAnswer: boolean; newRequestId: () => string },
  ) {
    for (const t of plan.targets) {
      this.bySha.set(t.sha256, t);
      this.byRequest.set(t.requestId, t);
      this.targetByGroup.set(t.key, t);
    }
    if (plan.mode === 'group') {
      for (const t of plan.targets) {
        const slot: GroupSlot = { target: t, devices: new Map() };
        this.groups.push(slot);
        this.groupOf.set(t, slot);
      }
    } else {
      const single = plan.targets.length === 1 ? plan.targets[0]! : null;
      for (const thing of plan.things) {
        const slot: ThingSlot = {
          thing,
          target: single,
          probe: single ? null : { requestId: opts.newRequestId(), topic: `${plan.prefix}/${thing}/report/get` },
          otherGroup: null,
          word: { thing, answer: null, refusal: null },
        };
        this.thingSlots.push(slot);
        this.byThing.set(thing, slot);
      }
    }
    for (const slot of [...this.groups, ...this.thingSlots]) this.retally(slot);
  }

  /** What to send (again) now: to every target no device has answered yet. */
  pending(): Outgoing[] {
    const out: Outgoing[] = [];
    if (this.plan.mode === 'group') {
      for (const g of this.groups) {
        if (g.devices.size === 0) out.push({ topic: g.target.groupTopic, payload: g.target.payload, kind: 'expectation', ref: `g:${g.target.index}` });
      }
    } else {
      for (const s of this.thingSlots) {
        if (s.otherGroup) continue;
        if (!s.target) out.push(this.probeOf(s));
        else if (!s.word.answer && !s.word.refusal) out.push(this.expectationFor(s, s.target));
      }
    }
    return out;
  }

  private probeOf(s: ThingSlot): Outgoing {
    return { topic: s.probe!.topic, payload: JSON.stringify({ requestId: s.probe!.requestId }), kind: 'probe', ref: `p:${s.thing}` };
  }

  private expectationFor(s: ThingSlot, t: AnyTarget): Outgoing {
    return { topic: `${this.plan.prefix}/${s.thing}/expected`, payload: t.payload, kind: 'expectation', ref: `e:${s.thing}` };
  }

  /** Whether a message queued earlier is still worth sending (nobody answered it meanwhile). */
  wanted(m: Outgoing): boolean {
    const kind = m.ref[0];
    const id = m.ref.slice(2);
    if (kind === 'g') return (this.groups[Number(id)]?.devices.size ?? 1) === 0;
    const s = this.byThing.get(id);
    if (!s || s.otherGroup) return false;
    if (kind === 'p') return s.target === null;
    return !s.word.answer && !s.word.refusal;
  }

  /**
   * A message on the report filter. Returns whether any row changed, and what
   * to send at once (the envelope for a thing whose group just became known).
   */
  onMessage(topic: string, payload: Buffer | string): { changed: boolean; send: Outgoing[] } {
    const none = { changed: false, send: [] as Outgoing[] };
    const thing = thingOfReportTopic(this.plan.prefix, topic);
    if (thing === null) return none;
    const a = readAnswer(payload);
    if (!a) {
      this.stats.ignored++;
      return none;
    }
    if (a.thing !== thing) {
      this.stats.impostors++;
      return none;
    }
    if (a.layout !== this.plan.layout) {
      this.stats.ignored++;
      return none;
    }
    return this.plan.mode === 'group' ? this.onGroupReport(a) : this.onThingReport(a);
  }

  private onGroupReport(a: Answer): { changed: boolean; send: Outgoing[] } {
    const send: Outgoing[] = [];
    let target = a.expectationSha256 ? this.bySha.get(a.expectationSha256) : undefined;
    const refusal = !target && a.refusal !== null && a.requestId !== null ? this.byRequest.get(a.requestId) : undefined;
    target ??= refusal;
    if (!target) {
      this.stats.ignored++;
      return { changed: false, send };
    }
    if (!belongsTo(a, target)) {
      this.stats.foreignGroup++;
      return { changed: false, send };
    }
    const slot = this.groupOf.get(target)!;
    let word = slot.devices.get(a.thing);
    if (!word) {
      word = { thing: a.thing, answer: null, refusal: null };
      slot.devices.set(a.thing, word);
    }
    const changed = take(word, a, refusal !== undefined);
    if (changed) this.retally(slot);
    return { changed, send };
  }

  private onThingReport(a: Answer): { changed: boolean; send: Outgoing[] } {
    const send: Outgoing[] = [];
    const s = this.byThing.get(a.thing);
    if (!s) {
      this.stats.ignored++;
      return { changed: false, send };
    }
    if (!s.target && !s.otherGroup && s.probe && a.requestId === s.probe.requestId) {
      const t = keysOf(a).map((k) => this.targetByGroup.get(k)).find((x) => x !== undefined);
      if (t) {
        s.target = t;
        send.push(this.expectationFor(s, t));
      } else {
        s.otherGroup = { answer: a };
      }
      this.retally(s);
      return { changed: true, send };
    }
    if (!s.target) {
      this.stats.ignored++;
      return { changed: false, send };
    }
    let changed: boolean | null = null;
    if (a.expectationSha256 === s.target.sha256) changed = take(s.word, a, false);
    else if (a.refusal !== null && a.requestId === s.target.requestId) changed = take(s.word, a, true);
    if (changed !== null) {
      if (changed) this.retally(s);
      return { changed, send };
    }
    this.stats.ignored++;
    return { changed: false, send };
  }

  // ---- tallies, kept per slot so a message costs O(1), not a pass over the fleet ----

  private readonly totals: Tally = { units: 0, final: 0, answered: 0, verified: 0 };
  private readonly contributions = new Map<GroupSlot | ThingSlot, Tally>();

  /**
   * A word nothing will change: a refusal, VERIFIED, or with --first-answer any
   * answer, unless the cloud itself says the deployment is still under way
   * (BOOTSTRAP, DEPLOY_IN_PROGRESS): then the device is waited for.
   */
  private isFinal(w: DeviceWord, t: AnyTarget | null): boolean {
    if (w.refusal !== null) return true;
    if (w.answer === null) return false;
    if (w.answer.status === 'VERIFIED') return true;
    return this.opts.firstAnswer && !inProgress(t);
  }

  /** What one slot adds to the totals: a silent group or thing is one unit, each device that answered one. */
  private contributionOf(slot: GroupSlot | ThingSlot): Tally {
    const words: (DeviceWord | null)[] = 'devices' in slot
      ? (slot.devices.size === 0 ? [null] : [...slot.devices.values()])
      : [slot.otherGroup || slot.word.answer || slot.word.refusal ? slot.word : null];
    const t: Tally = { units: words.length, final: 0, answered: 0, verified: 0 };
    // A thing group's devices are not known: more may answer until the timeout, unless first answers are final.
    const open = 'devices' in slot && isThingGroup(slot.target) && !this.opts.firstAnswer;
    for (const w of words) {
      if (!w) continue;
      t.answered++;
      if ('devices' in slot || !slot.otherGroup) {
        if (!open && this.isFinal(w, slot.target)) t.final++;
        if (w.answer?.status === 'VERIFIED' && w.refusal === null) t.verified++;
      } else {
        t.final++; // another group: nothing more will come
      }
    }
    return t;
  }

  /** Brings the totals up to date for a slot that may have changed. */
  private retally(slot: GroupSlot | ThingSlot): void {
    const before = this.contributions.get(slot);
    const after = this.contributionOf(slot);
    for (const k of ['units', 'final', 'answered', 'verified'] as const) this.totals[k] += after[k] - (before?.[k] ?? 0);
    this.contributions.set(slot, after);
  }

  /**
   * Nothing more to wait for: every device said VERIFIED or refused (or, with
   * --first-answer, said anything).
   */
  done(): boolean {
    return this.totals.final === this.totals.units;
  }

  progress(): Progress {
    const t = this.totals;
    return { targets: t.units, answered: t.answered, verified: t.verified, silent: t.units - t.answered };
  }
}

/** The cloud's own status says the deployment has not reached the device yet (Things Graph; a v2 deployment has no such status). */
export function inProgress(t: AnyTarget | null): boolean {
  if (t?.layout !== 'thingsgraph-v1') return false;
  const s = t.deployment.summary.status;
  return s === 'BOOTSTRAP' || s === 'DEPLOY_IN_PROGRESS';
}

/** A Greengrass v2 thing group's deployment: any number of devices may answer for it. */
export function isThingGroup(t: AnyTarget): boolean {
  return t.layout === 'greengrass-v2' && t.targetKind === 'thinggroup';
}

/** Whether a device's report may answer for a target found by group (see the top of this file). */
function belongsTo(a: Answer, t: AnyTarget): boolean {
  if (t.layout === 'thingsgraph-v1') return a.observed.groupId === t.key;
  if (t.targetKind === 'thing') return `thing/${a.thing}` === t.key;
  return a.v2 !== null && (a.v2.target === t.key || a.v2.targets.includes(t.key));
}

/** What a named thing's report says it runs, most telling first: the target a deployment is chosen by. */
function keysOf(a: Answer): string[] {
  if (a.layout === 'thingsgraph-v1') return a.observed.groupId ? [a.observed.groupId] : [];
  return [...(a.v2?.target ? [a.v2.target] : []), `thing/${a.thing}`, ...(a.v2?.targets ?? [])];
}

interface Tally {
  units: number;
  final: number;
  answered: number;
  verified: number;
}

/** Takes a report into a device's word; true when the word changed. */
function take(w: DeviceWord, a: Answer, isRefusal: boolean): boolean {
  if (isRefusal) {
    // A refusal stands only while the device has given no answer to the envelope itself.
    if (w.answer || (w.refusal && !isNewer(a, w.refusal))) return false;
    w.refusal = a;
    return true;
  }
  if (w.answer && !isNewer(a, w.answer)) return false;
  w.answer = a;
  w.refusal = null;
  return true;
}
