// What the incremental = full pass property tests share: a weighted pick of
// the next step, the regular files under a folder in a stable order, and the
// report with what legitimately differs between the two roads taken out.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Regular files under `rel` (root-relative), root-relative, in name order; a missing folder has none. */
export async function filesUnder(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (r: string) => {
    let ents;
    try {
      ents = await readdir(join(root, r), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = `${r}/${e.name}`;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(rel);
  return out;
}

/** One of `ops`, each as likely as its weight, by a seeded `random`. */
export function pickWeighted<T extends { weight: number }>(ops: readonly T[], random: () => number): T {
  let r = random() * ops.reduce((s, o) => s + o.weight, 0);
  for (const op of ops) if ((r -= op.weight) < 0) return op;
  return ops[ops.length - 1]!;
}

/** The report without the sequence, the time, the checks and the hashed counts: what the two roads may differ in. */
export function comparable(r: object): unknown {
  const c = structuredClone(r) as Record<string, unknown> & { observed: Record<string, unknown> };
  for (const k of ['sequence', 'generatedAt', 'checks']) delete c[k];
  for (const k of ['bytesHashed', 'filesHashed']) delete c.observed[k];
  return c;
}
