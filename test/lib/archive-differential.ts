// The differential archive check: each generated archive is read by
// deploy-witness, by GNU tar and by node-tar's own `tar.t`; an archive
// deploy-witness accepts must look the same to both (entries, types, file
// contents), and one it does not accept, or that either sees differently, must
// not verify on a core.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectArchive } from '../../src/observe/archive.js';
import type { ArchiveInspection } from '../../src/model/observation.js';
import type { GeneratedArchive } from './evil-tar-gen.js';
import { accepted, gnuDifference, gnuTarView } from './gnu-tar.js';
import { nodeTarDifference, nodeTarFlagged, nodeTarView, onlyNodeTarRefused } from './node-tar-view.js';
import { pass, refreshFlowLog, tempCore, type TempCore } from './core.js';

export interface CaseOutcome {
  name: string;
  accepted: boolean;
  /** How GNU tar's view differs from ours; null when the two agree. */
  difference: string | null;
  /** How node-tar's own reading of the file (`tar.t`) differs from ours; null when the two agree. */
  nodeTarDifference: string | null;
  /** The in-process cross-check found node-tar reading the archive differently (a RESOURCE_CORRUPT). */
  nodeTarFlagged: boolean;
  /** ... and that was the only reason the archive was refused. */
  nodeTarOnly: boolean;
  codes: string[];
  /** The verdict of a verify pass on a core holding the archive (no expectation, no baseline). */
  status?: string;
}

export interface Tally {
  cases: number;
  accepted: number;
  /** Archives deploy-witness refused (UNSAFE_ARCHIVE_ENTRY, RESOURCE_CORRUPT). */
  findings: number;
  /** Refused by deploy-witness and read differently (or not at all) by GNU tar. */
  gnuDiffers: number;
  /** Accepted by deploy-witness but read differently by GNU tar: must be 0. */
  disagreements: number;
  /** Refused by deploy-witness and read differently by node-tar's own `tar.t`. */
  nodeTarDiffers: number;
  /** Accepted by deploy-witness but read differently by node-tar's `tar.t`: must be 0. */
  nodeTarDisagreements: number;
  /** Refused because the in-process node-tar cross-check disagreed with our reader. */
  nodeTarFlagged: number;
  /** ... of which our reader alone would have accepted. */
  nodeTarOnly: number;
  /** Refused or read differently, yet VERIFIED on a core: must be 0. */
  verifiedHostile: number;
  /** Accepted and read alike, yet not VERIFIED on a core: must be 0 (the core check would be blind otherwise). */
  cleanNotVerified: number;
  verifyPasses: number;
  /** Outcomes worth a look: every disagreement and verify failure. */
  bad: CaseOutcome[];
}

export function emptyTally(): Tally {
  return {
    cases: 0, accepted: 0, findings: 0, gnuDiffers: 0, disagreements: 0, nodeTarDiffers: 0, nodeTarDisagreements: 0, nodeTarFlagged: 0, nodeTarOnly: 0,
    verifiedHostile: 0, cleanNotVerified: 0, verifyPasses: 0, bad: [],
  };
}

export function addOutcome(t: Tally, o: CaseOutcome): void {
  t.cases++;
  if (o.accepted) t.accepted++;
  else t.findings++;
  if (!o.accepted && o.difference !== null) t.gnuDiffers++;
  if (!o.accepted && o.nodeTarDifference !== null) t.nodeTarDiffers++;
  if (o.nodeTarFlagged) t.nodeTarFlagged++;
  if (o.nodeTarOnly) t.nodeTarOnly++;
  let bad = false;
  if (o.accepted && o.difference !== null) {
    t.disagreements++;
    bad = true;
  }
  if (o.accepted && o.nodeTarDifference !== null) {
    t.nodeTarDisagreements++;
    bad = true;
  }
  if (o.status !== undefined) {
    t.verifyPasses++;
    const hostile = !o.accepted || o.difference !== null || o.nodeTarDifference !== null;
    if (hostile && o.status === 'VERIFIED') {
      t.verifiedHostile++;
      bad = true;
    }
    if (!hostile && o.status !== 'VERIFIED') {
      t.cleanNotVerified++;
      bad = true;
    }
  }
  if (bad) t.bad.push(o);
}

export class ArchiveDifferential {
  private n = 0;

  private constructor(
    private readonly dir: string,
    private readonly core: TempCore,
  ) {}

  /** A scratch folder and a simulated core whose flow resource is the archive only (no unpacked folder to compare). */
  static async create(): Promise<ArchiveDifferential> {
    const dir = await mkdtemp(join(tmpdir(), 'dw-diff-'));
    await mkdir(join(dir, 'scratch'));
    const core = await tempCore({ unpacked: false, lambdaFiles: 0, engineFiles: 0 });
    return new ArchiveDifferential(dir, core);
  }

  async check(c: GeneratedArchive, opts: { verify: boolean }): Promise<CaseOutcome> {
    const file = join(this.dir, `case-${this.n++ % 4}.tar.gz`);
    await writeFile(file, c.gz);
    const ours: ArchiveInspection = await inspectArchive(file, 'flow-case.tar.gz');
    const gnu = await gnuTarView(file, join(this.dir, 'scratch'));
    const out: CaseOutcome = {
      name: c.name,
      accepted: accepted(ours),
      difference: gnuDifference(ours, gnu),
      nodeTarDifference: nodeTarDifference(ours, nodeTarView(file)),
      nodeTarFlagged: nodeTarFlagged(ours),
      nodeTarOnly: onlyNodeTarRefused(ours),
      codes: [...new Set(ours.findings.map((f) => f.code))].sort(),
    };
    if (opts.verify) out.status = await this.verify(c.gz);
    return out;
  }

  /** One verify pass on the core with this archive as its flow resource, with no expectation and no earlier baseline. */
  private async verify(gz: Buffer): Promise<string> {
    await writeFile(join(this.core.root, this.core.paths.archive), gz);
    await rm(this.core.stateDir, { recursive: true, force: true });
    await refreshFlowLog(this.core);
    const r = await pass(this.core, null);
    return r.report.status;
  }

  async close(): Promise<void> {
    await this.core.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}
