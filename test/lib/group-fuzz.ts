// Seeded group.json fuzzing through the real one-shot path: `deploy-witness
// verify --json` as a separate process, on a simulated core whose group.json
// is replaced by a mutated one. Counts crashes, hangs and VERIFIED verdicts
// on broken definitions (all must be 0), and checks that the valid variants
// still verify (so the run can tell a verdict apart at all).
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_IDS, groupJson } from '../../scripts/simulated-core.js';
import { runCli } from './cli-child.js';
import { Rand } from './seeded.js';
import { refreshFlowLog, tempCore, type TempCore } from './core.js';

export interface GroupCase {
  name: string;
  bytes: Buffer;
  /** By construction: the definition is broken and must not verify. */
  broken: boolean;
}

type Doc = Record<string, unknown>;
type Path = (string | number)[];

const FLOW_FILE = `flow-${DEFAULT_IDS.flowName}.tar.gz`;
const base = (): Doc => groupJson(DEFAULT_IDS, 'api', FLOW_FILE);

function get(doc: unknown, path: Path): unknown {
  let v = doc;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

function set(doc: Doc, path: Path, value: unknown): void {
  const parent = get(doc, path.slice(0, -1)) as Record<string | number, unknown>;
  const k = path[path.length - 1] as string | number;
  if (value === undefined) delete parent[k];
  else parent[k] = value;
}

/** Known keys and a value of the wrong type for each. */
const TYPED: [Path, unknown[]][] = [
  [['Arn'], [null, 42, true, [], {}, '']],
  [['Version'], [null, 7, [], {}, '']],
  [['Region'], [null, 1, [], {}]],
  [['Cores'], [null, 'core', 1, {}, [], [null], [1], ['arn:aws:iot:us-east-1:123456789012:thing/x']]],
  [['Cores', 0, 'thingArn'], [null, 5, 'MyGreengrassCore', '', ['x']]],
  [['Devices'], [null, 'd', {}, 3]],
  [['GroupDefinitions'], [null, [], 'defs', 0, true]],
  [['GroupDefinitions', 'Lambdas'], [null, [], 'l', 1]],
  [['GroupDefinitions', 'Lambdas', 'Content'], [null, {}, 'c', 2]],
  [['GroupDefinitions', 'Lambdas', 'Content', 0], [null, 'l', 3, []]],
  [['GroupDefinitions', 'Lambdas', 'Content', 0, 'FunctionArn'], [null, 1, 'ThingsGraphConnector', '', {}]],
  [['GroupDefinitions', 'Lambdas', 'Content', 0, 'DeploymentConfiguration'], [null, 'x', 5]],
  [['GroupDefinitions', 'Lambdas', 'Content', 0, 'DeploymentConfiguration', 'CodeSize'], ['12', -1, 1.5, null]],
  [['GroupDefinitions', 'Connectors'], [null, [], 'c', 1]],
  [['GroupDefinitions', 'Connectors', 'Content'], [null, {}, 'c']],
  [['GroupDefinitions', 'Connectors', 'Content', 0, 'ConnectorArn'], [null, 1, '', 'ThingsGraph']],
  [['GroupDefinitions', 'Connectors', 'Content', 0, 'Id'], [null, 1, '']],
  [['GroupDefinitions', 'Resources'], [null, [], 'r']],
  [['GroupDefinitions', 'Resources', 'Content'], [null, 'flow-x.tar.gz', {}]],
  [['GroupDefinitions', 'Resources', 'Content', 0], [null, 'r', 1, {}]],
  [['GroupDefinitions', 'Resources', 'Content', 0, 'ResourceDataContainer'], [null, 'x', 1, []]],
  [['GroupDefinitions', 'Subscriptions'], [null, [], 1]],
  [['GroupDefinitions', 'Subscriptions', 'Content'], [null, {}]],
  [['GroupDefinitions', 'Logging'], [null, 'info']],
  [['GroupDefinitions', 'Logging', 'Content'], [null, 'x']],
];

const ARN = (ids = DEFAULT_IDS) => `arn:aws:greengrass:${ids.region}:${ids.account}:/greengrass/groups/${ids.groupId}/versions/${ids.groupVersionId}`;
const BAD_ARNS = [
  `arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/${DEFAULT_IDS.groupId}`,
  `arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/${DEFAULT_IDS.groupId}/versions/`,
  `arn:aws:iot:us-east-1:123456789012:/greengrass/groups/${DEFAULT_IDS.groupId}/versions/${DEFAULT_IDS.groupVersionId}`,
  `arn:aws:greengrass:us-east-1:123456789012:/greengrass/things/${DEFAULT_IDS.groupId}/versions/${DEFAULT_IDS.groupVersionId}`,
  `${ARN()}/extra`,
  `arn:aws:greengrass:us-east-1:12:/greengrass/groups/${DEFAULT_IDS.groupId}/versions/${DEFAULT_IDS.groupVersionId}`,
  `/greengrass/groups/${DEFAULT_IDS.groupId}/versions/${DEFAULT_IDS.groupVersionId}`,
  DEFAULT_IDS.groupVersionId,
  `arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/a/b/versions/${DEFAULT_IDS.groupVersionId}`,
  ` ${ARN()}`,
];

type Mutation = (doc: Doc, r: Rand) => string;

/** Each breaks the definition. */
const BREAK_DOC: Mutation[] = [
  (doc, r) => {
    const [path, values] = r.pick(TYPED);
    const v = r.pick(values);
    set(doc, path, v);
    return `${path.join('.')} = ${JSON.stringify(v)}`;
  },
  (doc, r) => {
    const k = r.pick(['Arn', 'Version', 'Cores']);
    delete doc[k];
    delete doc[k.toLowerCase()];
    return `no ${k}`;
  },
  (doc, r) => {
    doc.Version = r.pick(['11111111-2222-4333-8444-555555555555', DEFAULT_IDS.groupId, `${DEFAULT_IDS.groupVersionId} `, DEFAULT_IDS.groupVersionId.toUpperCase()]);
    return `Version ${JSON.stringify(doc.Version)} not the one in Arn`;
  },
  (doc, r) => {
    doc.Arn = r.pick(BAD_ARNS);
    return `Arn ${JSON.stringify(doc.Arn)}`;
  },
  (doc, r) => {
    doc.Region = r.pick(['eu-west-1', 'US-EAST-1', 'useast1', '']);
    return `Region ${JSON.stringify(doc.Region)}`;
  },
  (doc, r) => {
    const [path, key] = r.pick([
      [['GroupDefinitions', 'Lambdas', 'Content', 0], 'FunctionArn'],
      [['GroupDefinitions', 'Connectors', 'Content', 0], 'ConnectorArn'],
      [['Cores', 0], 'thingArn'],
      [['GroupDefinitions', 'Lambdas'], 'Content'],
    ] as [Path, string][]);
    delete (get(doc, path) as Doc)[key];
    return `no ${[...path, key].join('.')}`;
  },
  (doc) => {
    const res = get(doc, ['GroupDefinitions', 'Resources', 'Content', 0]) as Doc;
    delete res.ResourceDataContainer;
    return 'resource with no data';
  },
  (doc, r) => {
    // Nesting far beyond what a definition needs: bounded by the reader, not by the stack.
    const depth = r.pick([65, 1000, 100_000, 1_000_000]);
    (get(doc, ['GroupDefinitions', 'Subscriptions', 'Content', 0]) as Doc).Deep = `@@DEEP${depth}@@`;
    return `nesting ${depth}`;
  },
];

/** Each keeps the definition valid (and verifiable on a healthy core), only adding to it. */
const KEEP_ADDING: Mutation[] = [
  () => 'unchanged',
  (doc, r) => {
    doc[`X-${r.word(4)}`] = r.pick([null, 1, 'extra', { a: [1] }]);
    return 'unknown key';
  },
  (doc, r) => {
    (doc.Devices as Doc[]).push({ thingArn: `arn:aws:iot:us-east-1:123456789012:thing/Sensor_${r.word(3)}` });
    doc.Note = `caf\u00e9 \u{1f600} ${r.word(3)}`;
    return 'another device, non-ASCII text';
  },
];

/**
 * All valid variants. Those that remove optional keys or spell keys another
 * way (`arn`, `ThingArn`) are never combined with a breaking mutation, which
 * looks for keys where the simulated core writes them.
 */
const KEEP_DOC: Mutation[] = [
  ...KEEP_ADDING,
  (doc) => {
    delete doc.Region;
    return 'no Region';
  },
  (doc) => {
    delete doc.Devices;
    return 'no Devices';
  },
  (doc) => {
    delete (doc.GroupDefinitions as Doc).Connectors;
    return 'no Connectors (the Lambda still names the connector)';
  },
  (doc) => {
    for (const k of ['Arn', 'Version', 'Cores']) {
      doc[k.toLowerCase()] = doc[k];
      delete doc[k];
    }
    return 'lower-case keys';
  },
  (doc) => {
    const c = (doc.Cores as Doc[])[0] as Doc;
    c.ThingArn = c.thingArn;
    delete c.thingArn;
    return 'ThingArn';
  },
];

function serialize(doc: Doc, r: Rand): string {
  let text = JSON.stringify(doc, null, r.pick([0, 2, 4, '\t']));
  text = text.replace(/"@@DEEP(\d+)@@"/, (_, n: string) => `${'['.repeat(Number(n))}${']'.repeat(Number(n))}`);
  return text;
}

/** Text-level damage: what a serializer never writes but a disk, an editor or an attacker might. */
const BREAK_TEXT: ((text: string, r: Rand) => { bytes: Buffer; note: string })[] = [
  (text, r) => {
    const other = r.pick([ARN(), ARN({ ...DEFAULT_IDS, groupVersionId: '11111111-2222-4333-8444-555555555555' })]);
    const key = r.pick(['Arn', 'Version', 'Cores', 'GroupDefinitions', 'arn']);
    const value = key === 'Cores' ? '[]' : key === 'GroupDefinitions' ? 'null' : JSON.stringify(other);
    return { bytes: Buffer.from(text.replace('{', `{"${key}":${value},`)), note: `a second ${key}` };
  },
  (text, r) => {
    const key = r.pick(['FunctionArn', 'ConnectorArn', 'thingArn', 'Content', 'S3Uri']);
    const m = new RegExp(`"${key}"\\s*:\\s*("[^"]*"|\\[[^\\]]*\\])`).exec(text);
    if (!m) return { bytes: Buffer.from(`${text}}`), note: 'trailing brace' };
    const dup = `"${key}":${r.chance(0.5) ? m[1] : '"arn:aws:lambda:::function:Other:1"'},`;
    return { bytes: Buffer.from(text.slice(0, m.index) + dup + text.slice(m.index)), note: `duplicate ${key}` };
  },
  (text, r) => {
    const b = Buffer.from(text);
    // A byte inside a string value: where a lossy decoder would hide it.
    const quotes: number[] = [];
    for (let i = 0; i < b.length; i++) if (b[i] === 0x22) quotes.push(i);
    const at = (r.pick(quotes) as number) + 1;
    const bad = r.pick([[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]]);
    return { bytes: Buffer.concat([b.subarray(0, at), Buffer.from(bad), b.subarray(at)]), note: `bytes ${bad.map((x) => x.toString(16)).join(' ')} in a string` };
  },
  (text, r) => {
    const cut = r.int(0, text.length - 1);
    return { bytes: Buffer.from(text).subarray(0, cut), note: `cut at ${cut}` };
  },
  (text, r) => {
    const how = r.pick(['bom', 'garbage', 'nan', 'comment', 'quote', 'second']);
    const t =
      how === 'bom' ? `\ufeff${text}`
      : how === 'garbage' ? `${text}\n}junk`
      : how === 'nan' ? text.replace(/"CodeSize":\s*\d+/, '"CodeSize": NaN')
      : how === 'comment' ? text.replace('{', '{ // written by hand\n')
      : how === 'quote' ? text.replace('"Region"', "'Region'")
      : `${text}${text}`;
    return { bytes: Buffer.from(t), note: how };
  },
  () => ({ bytes: Buffer.from(`{"Arn":"${'x'.repeat(17 * 1024 * 1024)}"}`), note: 'larger than 16 MiB' }),
];

/** One seeded case: about one in seven valid, the rest broken in one way. */
export function groupCase(seed: number): GroupCase {
  const r = new Rand(seed);
  const doc = base();
  const kind = r.next();
  if (kind < 0.15) {
    const note = r.pick(KEEP_DOC)(doc, r);
    return { name: `seed ${seed}: valid, ${note}`, bytes: Buffer.from(serialize(doc, r)), broken: false };
  }
  if (kind < 0.6) {
    if (r.chance(0.3)) r.pick(KEEP_ADDING)(doc, r);
    const note = r.pick(BREAK_DOC)(doc, r);
    return { name: `seed ${seed}: ${note}`, bytes: Buffer.from(serialize(doc, r)), broken: true };
  }
  // The 16 MiB case is rare: it costs memory in the generator, not in the verifier.
  const pool = r.chance(0.01) ? BREAK_TEXT : BREAK_TEXT.slice(0, -1);
  const { bytes, note } = r.pick(pool)(serialize(doc, r), r);
  return { name: `seed ${seed}: ${note}`, bytes, broken: true };
}

export interface GroupFuzzTally {
  cases: number;
  broken: number;
  valid: number;
  crashes: number;
  hangs: number;
  verifiedBroken: number;
  /** Broken, yet without GROUP_DEFINITION_INVALID among the findings. */
  brokenUnflagged: number;
  /** Valid variants that verified, of `valid`. */
  validVerified: number;
  maxMs: number;
  bad: string[];
}

export function emptyGroupTally(): GroupFuzzTally {
  return { cases: 0, broken: 0, valid: 0, crashes: 0, hangs: 0, verifiedBroken: 0, brokenUnflagged: 0, validVerified: 0, maxMs: 0, bad: [] };
}

function parseReport(stdout: string): { status?: string; findings?: { code: string }[] } | null {
  try {
    return JSON.parse(stdout) as { status?: string; findings?: { code: string }[] };
  } catch {
    return null;
  }
}


/**
 * A worker: two cores, one healthy and one where only group.json stands
 * between a broken definition and VERIFIED (thingsgraph/ and the Things Graph
 * log gone, so "Things Graph is not in play" is what a misread would conclude).
 */
export class GroupFuzzWorker {
  private constructor(
    private readonly healthy: TempCore,
    private readonly bare: TempCore,
    private readonly timeoutMs: number,
  ) {}

  static async create(timeoutMs = 20_000): Promise<GroupFuzzWorker> {
    const healthy = await tempCore({ lambdaFiles: 1, engineFiles: 1 });
    const bare = await tempCore({ lambdaFiles: 1, engineFiles: 1 });
    await rm(join(bare.root, 'thingsgraph'), { recursive: true, force: true });
    await rm(join(bare.root, bare.paths.thingsGraphLog), { force: true });
    return new GroupFuzzWorker(healthy, bare, timeoutMs);
  }

  async run(c: GroupCase, t: GroupFuzzTally): Promise<void> {
    // Valid variants run on the healthy core (they must verify there); broken ones on either.
    const core = !c.broken || c.bytes.length % 2 === 0 ? this.healthy : this.bare;
    await writeFile(join(core.root, core.paths.groupJson), c.bytes);
    await rm(core.stateDir, { recursive: true, force: true });
    if (core === this.healthy) await refreshFlowLog(core);
    const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--json', '--hash-rate', '0'], { deadlineMs: this.timeoutMs });
    t.cases++;
    if (c.broken) t.broken++;
    else t.valid++;
    t.maxMs = Math.max(t.maxMs, r.ms);
    if (r.hung) {
      t.hangs++;
      t.bad.push(`hang: ${c.name}`);
      return;
    }
    const report = parseReport(r.stdout);
    if ((r.code !== 0 && r.code !== 1) || !report?.status) {
      t.crashes++;
      t.bad.push(`crash (exit ${r.code}): ${c.name}: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
      return;
    }
    const codes = (report.findings ?? []).map((f) => f.code);
    if (c.broken) {
      if (report.status === 'VERIFIED') {
        t.verifiedBroken++;
        t.bad.push(`VERIFIED on broken: ${c.name}`);
      }
      if (!codes.includes('GROUP_DEFINITION_INVALID')) {
        t.brokenUnflagged++;
        t.bad.push(`broken but no GROUP_DEFINITION_INVALID (${codes.join(',')}): ${c.name}`);
      }
    } else if (report.status === 'VERIFIED') {
      t.validVerified++;
    } else {
      t.bad.push(`valid but ${report.status} (${codes.join(',')}): ${c.name}`);
    }
  }

  async close(): Promise<void> {
    await this.healthy.cleanup();
    await this.bare.cleanup();
  }
}

/** Runs seeds [first, first+n) on `workers` parallel workers. */
export async function fuzzGroups(opts: { first: number; n: number; workers: number; onProgress?: (done: number) => void }): Promise<GroupFuzzTally> {
  const t = emptyGroupTally();
  const workers = await Promise.all(Array.from({ length: opts.workers }, () => GroupFuzzWorker.create()));
  let next = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < opts.n) {
          const seed = opts.first + next++;
          await w.run(groupCase(seed), t);
          opts.onProgress?.(t.cases);
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
  return t;
}
