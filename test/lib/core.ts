// Test helpers around a simulated core: temp folders, a config, one verify pass.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyOnce } from '../../src/core-state/core-state.js';
import { applyConfig, defaultConfig, type Config } from '../../src/config/config.js';
import { createHasher } from '../../src/observe/hash.js';
import { parseExpectation, type Expectation } from '../../src/verify/expectation.js';
import { makeCore, thingsGraphLogText, type CoreSpec, type MadeCore } from '../../scripts/simulated-core.js';

export interface TempCore extends MadeCore {
  stateDir: string;
  config: Config;
  cleanup(): Promise<void>;
}

export async function tempCore(spec: Omit<CoreSpec, 'root'> = {}, config: Record<string, unknown> = {}): Promise<TempCore> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-core-'));
  const root = join(dir, 'root');
  const stateDir = join(dir, 'state');
  const core = await makeCore({ ...spec, root });
  const cfg = applyConfig(defaultConfig({}), { root, stateDir, hashRateLimitMBps: 0, ...config }, 'test');
  return { ...core, stateDir, config: cfg, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function expectationOf(doc: unknown): Expectation {
  const r = parseExpectation(JSON.stringify(doc));
  if (!r.ok) throw new Error(r.error);
  return r.expectation;
}

export type PassResult = Awaited<ReturnType<typeof verifyOnce>>;

export async function pass(core: TempCore, expectation: Expectation | null = expectationOf(core.envelope)): Promise<PassResult> {
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 0 });
  try {
    return await verifyOnce({ config: core.config, hasher, expectation, agentVersion: 'test' });
  } finally {
    await hasher.close();
  }
}

export const codesOf = (r: PassResult) => [...new Set(r.verdict.findings.map((f) => f.code))].sort();

/**
 * Rewrites the Things Graph log as if the flow ran in the last minute: a core
 * reused across many passes otherwise goes quiet and fails flow health.
 */
export async function refreshFlowLog(core: MadeCore, now = new Date()): Promise<void> {
  const text = thingsGraphLogText(core.ids, { timestamps: true, registered: true, start: new Date(now.getTime() - 60_000) });
  await writeFile(join(core.root, core.paths.thingsGraphLog), text);
}
