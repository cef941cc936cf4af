// The newest expectation received for each layout, kept across restarts so the
// agent goes on judging against it: expectation.json (Things Graph) and
// expectation-greengrass-v2.json. Stored as received; parsed again when loaded.
import { join } from 'node:path';
import { readRegularText } from '../io/guarded-read.js';
import { parseExpectation, type Expectation } from '../verify/expectation.js';
import { layoutOfExpectation, parseAnyExpectation, type AnyExpectation } from '../verify/expectations.js';
import type { LayoutName } from '../verify/report.js';
import { writeFileAtomic } from './atomic.js';

const FILES: Record<LayoutName, string> = { 'thingsgraph-v1': 'expectation.json', 'greengrass-v2': 'expectation-greengrass-v2.json' };
const file = (stateDir: string, layout: LayoutName) => join(stateDir, FILES[layout]);
const MAX_STORED = 1024 * 1024;

export async function saveExpectation(stateDir: string, text: string, layout: LayoutName = 'thingsgraph-v1'): Promise<void> {
  await writeFileAtomic(file(stateDir, layout), text);
}

async function readStored(stateDir: string, layout: LayoutName): Promise<string | null> {
  try {
    // The cap --expect has: what was stored came through the same parser.
    return await readRegularText(file(stateDir, layout), { maxBytes: MAX_STORED });
  } catch {
    return null;
  }
}

/** The stored Things Graph expectation, or null when none (or a damaged one) is stored. */
export async function loadStoredExpectation(stateDir: string): Promise<Expectation | null> {
  const text = await readStored(stateDir, 'thingsgraph-v1');
  if (text === null) return null;
  const r = parseExpectation(text);
  return r.ok ? r.expectation : null;
}

/** Every layout's stored expectation (a damaged one, or one in the wrong file, is left out). */
export async function loadStoredExpectations(stateDir: string): Promise<AnyExpectation[]> {
  const out: AnyExpectation[] = [];
  for (const layout of Object.keys(FILES) as LayoutName[]) {
    const text = await readStored(stateDir, layout);
    if (text === null) continue;
    const r = parseAnyExpectation(text);
    if (r.ok && layoutOfExpectation(r.expectation) === layout) out.push(r.expectation);
  }
  return out;
}
