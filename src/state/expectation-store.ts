// The newest expectation received, kept across restarts so the agent goes on
// judging against it. Stored as received; parsed again when loaded.
import { join } from 'node:path';
import { readRegularText } from '../io/guarded-read.js';
import { parseExpectation, type Expectation } from '../verify/expectation.js';
import { writeFileAtomic } from './atomic.js';

const file = (stateDir: string) => join(stateDir, 'expectation.json');
const MAX_STORED = 1024 * 1024;

export async function saveExpectation(stateDir: string, text: string): Promise<void> {
  await writeFileAtomic(file(stateDir), text);
}

/** The stored expectation, or null when none (or a damaged one) is stored. */
export async function loadStoredExpectation(stateDir: string): Promise<Expectation | null> {
  let text: string;
  try {
    // The cap --expect has: what was stored came through the same parser.
    text = await readRegularText(file(stateDir), { maxBytes: MAX_STORED });
  } catch {
    return null;
  }
  const r = parseExpectation(text);
  return r.ok ? r.expectation : null;
}
