// The source tree shows the data flow: each folder is a layer and may use only
// the layers below it. Type-only imports count, since a type drawn from a
// higher layer ties the two just as much. Read from the TypeScript sources,
// so the test says what the code says, not what a comment claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/**
 * Lowest first. A module may import from its own layer and any layer below.
 * `model` is the shared vocabulary (findings, digests, observation types) that
 * observing and judging both speak; `log.ts` and `version.ts` are utilities;
 * `io` reads files that may be hostile (the guarded reader).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['log.ts', 'version.ts', 'model', 'io'],
  ['config'],
  ['observe'],
  ['verify'],
  ['state'],
  ['health'],
  ['core-state'],
  ['report'],
  ['agent'],
  ['check'],
  ['cli'],
];

const SRC = join(process.cwd(), 'src');

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports and re-exports, static or dynamic, type-only included. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/g),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'));
}

function layerOf(file: string): number {
  const top = relative(SRC, file).split('/')[0]!;
  const i = LAYERS.findIndex((l) => l.includes(top));
  assert.notEqual(i, -1, `${relative(SRC, file)} is in no layer: add its folder to LAYERS`);
  return i;
}

const graph = new Map(sources(SRC).map((f) => [f, importsOf(f)]));

test('every import points to the same layer or one below', () => {
  const up: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (!graph.has(to)) continue; // not a module of ours (checked by tsc)
      if (layerOf(to) > layerOf(from)) up.push(`${relative(SRC, from)} -> ${relative(SRC, to)}`);
    }
  }
  assert.deepEqual(up, [], 'imports that run back up the layers');
});

test('no import cycles among modules', () => {
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]): void => {
    state.set(f, 1);
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (!graph.has(t) || t === f) continue;
      if (state.get(t) === 1) cycles.push(stack.slice(stack.indexOf(t)).concat(t).map((p) => relative(SRC, p)).join(' -> '));
      else if (!state.has(t)) visit(t, stack);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('the layering test sees the whole tree', () => {
  // A regex that stopped matching would make both tests above pass vacuously.
  const edges = [...graph.values()].reduce((n, t) => n + t.length, 0);
  assert.ok(graph.size > 40, `only ${graph.size} modules found`);
  assert.ok(edges > 100, `only ${edges} imports found`);
});
