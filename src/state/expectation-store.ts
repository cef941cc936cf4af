// The newest expectation received for each layout, kept across restarts so the
// agent goes on judging against it: expectation.json (Things Graph) and
// expectation-greengrass-v2.json. Stored as received; parsed again when loaded.
import { join } from 'node:path';
import { readRegularText } from '../io/guarded-read.js';
import { layoutOfExpectation, parseAnyExpectation, type AnyExpectation } from '../verify/expectations.js';
import type { LayoutName } from '../verify/report.js';
import { writeFileAtomic } from './atomic.js';

const FILES: Record<LayoutName, string> = { 'thingsgraph-v1': 'expectation.json', 'greengrass-v2': 'expectation-greengrass-v2.json' };
const file = (stateDir: string, layout: LayoutName) => join(stateDir, FILES[layout]);
const MAX_STORED = 1024 * 1024;

export async function saveExpectation(stateDir: string, text: string, layout: LayoutName = 'thingsgraph-v1'): Promise<void> {
  await writeFileAtomic(file(stateDir, layout), text);
}

/** What is stored for a layout: nothing, its text, or why it could not be read. */
async function readStored(stateDir: string, layout: LayoutName): Promise<{ text: string } | { damaged: string } | null> {
  try {
    // The cap --expect has: what was stored came through the same parser.
    return { text: await readRegularText(file(stateDir, layout), { maxBytes: MAX_STORED }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { damaged: (err as Error).message };
  }
}

export interface StoredExpectations {
  expectations: AnyExpectation[];
  /** Stored files that could not be used (unreadable, not a regular file, invalid, another layout's): left out. */
  damaged: { layout: LayoutName; file: string; why: string }[];
}

/** Every layout's stored expectation; a damaged one is left out and named, so the loss can be said. */
export async function loadStoredExpectations(stateDir: string): Promise<StoredExpectations> {
  const out: StoredExpectations = { expectations: [], damaged: [] };
  for (const layout of Object.keys(FILES) as LayoutName[]) {
    const got = await readStored(stateDir, layout);
    if (got === null) continue;
    const damaged = (why: string) => out.damaged.push({ layout, file: FILES[layout], why });
    if (!('text' in got)) {
      damaged(got.damaged);
      continue;
    }
    const r = parseAnyExpectation(got.text);
    if (!r.ok) damaged(r.error);
    else if (layoutOfExpectation(r.expectation) !== layout) damaged(`it holds a ${layoutOfExpectation(r.expectation)} expectation`);
    else out.expectations.push(r.expectation);
  }
  return out;
}
