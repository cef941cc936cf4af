// `npm run package`: the Greengrass component, one zip per architecture, from the node_modules
// already installed (no registry access): the compiled agent, its production dependencies with
// only what runs (no tests, source maps, type declarations, docs, or other platforms' aws-crt
// binaries), a POSIX-sh launcher and a preflight that checks Node.js and aws-crt before loading
// the agent. Then the recipe, with each zip's URI and SHA-256 digest, in
// greengrass-build/recipes/ (as <name>-<version>.yaml for local deployments, and as recipe.yaml
// for `gdk component publish`).
//
//   node dist/scripts/package.js [--arch arm64,x64] [--bucket NAME] [--out DIR]
//
// A zip X.zip unpacks to {artifacts:decompressedPath}/X/ on both nuclei, so the zip holds the
// package at its top level and the recipe runs X/bin/deploy-witness.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import { parseDocument } from 'yaml';

/** The two platforms aws-crt ships glibc binaries for that a Greengrass core runs on. */
export const TARGETS = {
  arm64: { arch: 'arm64', greengrassArch: 'aarch64', elfMachine: 0xb7 },
  x64: { arch: 'x64', greengrassArch: 'amd64', elfMachine: 0x3e },
} as const;
export type Arch = keyof typeof TARGETS;

/** Each zip must stay under this (a core downloads it over a cellular link, often). */
export const ZIP_BUDGET_BYTES = 8 * 1024 * 1024;
/** Fixed, so that the same tree gives the same zip and the same digest. */
const MTIME = new Date('2020-01-01T00:00:00Z');
const PLACEHOLDER_BUCKET = 'BUCKET';

export const zipName = (arch: Arch): string => `deploy-witness-linux-${arch}`;

// --- what goes into a package ---------------------------------------------------------------

/** A file inside one npm package: its path relative to the package folder, split. */
interface Candidate {
  pkg: string;
  rel: string;
  parts: string[];
  target: Arch;
}

const LICENSE_FILE = /^(licen[cs]e|notice|copying|authors)(\.|$|-)/i;

/** One named check per kind of file a running agent never reads. */
export const EXCLUDE_RULES: readonly { name: string; excludes: (c: Candidate) => boolean }[] = [
  { name: 'source map', excludes: (c) => c.rel.endsWith('.map') },
  { name: 'type declarations', excludes: (c) => /\.d\.[cm]?ts$/.test(c.rel) || c.pkg.startsWith('@types/') || c.pkg === 'undici-types' },
  { name: 'TypeScript source', excludes: (c) => /\.[cm]?ts$/.test(c.rel) },
  {
    name: 'test',
    excludes: (c) =>
      // Top-level folders only: a package's own runtime code may sit in a nested folder of any name.
      (c.parts.length > 1 && /^(tests?|__tests__|servicetests|spec)$/.test(c.parts[0]!)) || /\.(spec|test)\.[cm]?js$/.test(c.rel),
  },
  { name: 'other platform binary', excludes: (c) => c.pkg === 'aws-crt' && c.rel.startsWith('dist/bin/') && c.parts[2] !== `linux-${c.target}-glibc` },
  { name: 'browser build', excludes: (c) => c.parts[0] === 'dist.browser' },
  { name: 'native build input', excludes: (c) => /\.(c|h|cc|cpp|gyp|gypi|py)$/.test(c.rel) || c.rel === 'CMakeLists.txt' || (c.pkg === 'aws-crt' && c.parts[0] === 'scripts') },
  {
    name: 'documentation',
    excludes: (c) =>
      (/\.(md|markdown)$/i.test(c.rel) && !LICENSE_FILE.test(c.parts.at(-1)!)) || (c.parts.length > 1 && /^(docs?|examples?)$/.test(c.parts[0]!)),
  },
  { name: 'dot file', excludes: (c) => c.parts.some((p) => p.startsWith('.')) },
];

export function excludedBy(c: Candidate): string | null {
  return EXCLUDE_RULES.find((r) => r.excludes(c))?.name ?? null;
}

/** Production packages, from the lockfile: every installed package not marked dev-only. */
export async function productionPackages(projectDir: string): Promise<{ dir: string; name: string }[]> {
  const lock = JSON.parse(await readFile(join(projectDir, 'package-lock.json'), 'utf8')) as {
    lockfileVersion?: number;
    packages?: Record<string, { dev?: boolean; link?: boolean }>;
  };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) throw new Error('package-lock.json has no "packages" map (lockfile version 2 or later needed)');
  const out: { dir: string; name: string }[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev || entry.link) continue;
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    out.push({ dir: key, name });
  }
  return out.sort((a, b) => (a.dir < b.dir ? -1 : 1));
}

export interface PackageEntry {
  /** Path inside the zip, '/'-separated. */
  path: string;
  source: string;
  mode: number;
}

export interface Selection {
  files: PackageEntry[];
  excluded: Record<string, { files: number; bytes: number }>;
}

async function walk(dir: string, onFile: (abs: string, size: number) => Promise<void> | void): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const abs = join(dir, e.name);
    // Nested node_modules are packages of their own (each has its lockfile entry); links are
    // never followed (node_modules/.bin, workspace links).
    if (e.isDirectory() && e.name !== 'node_modules') await walk(abs, onFile);
    else if (e.isFile()) await onFile(abs, (await lstat(abs)).size);
  }
}

/** Everything the package for `target` holds, and what was left out by which rule. */
export async function selectFiles(projectDir: string, packagingDir: string, target: Arch): Promise<Selection> {
  const files: PackageEntry[] = [];
  const excluded: Selection['excluded'] = {};
  const dist = join(projectDir, 'dist', 'src');
  await stat(join(dist, 'cli', 'bin.js')).catch(() => {
    throw new Error(`${join(dist, 'cli', 'bin.js')} is missing: run npm run build first`);
  });
  await walk(dist, (abs) => {
    if (abs.endsWith('.js')) files.push({ path: relative(projectDir, abs).split(sep).join('/'), source: abs, mode: 0o644 });
  });
  for (const { dir, name } of await productionPackages(projectDir)) {
    const pkgDir = join(projectDir, dir);
    const st = await stat(pkgDir).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`${dir} is missing: run npm ci first (packaging uses the installed node_modules, offline)`);
    await walk(pkgDir, (abs, size) => {
      const rel = relative(pkgDir, abs).split(sep).join('/');
      const rule = excludedBy({ pkg: name, rel, parts: rel.split('/'), target });
      if (rule) {
        const x = (excluded[rule] ??= { files: 0, bytes: 0 });
        x.files++;
        x.bytes += size;
        return;
      }
      files.push({ path: `${dir}/${rel}`, source: abs, mode: 0o644 });
    });
  }
  files.push({ path: 'bin/deploy-witness', source: join(packagingDir, 'launcher.sh'), mode: 0o755 });
  files.push({ path: 'bin/preflight.cjs', source: join(packagingDir, 'preflight.cjs'), mode: 0o644 });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, excluded };
}

// --- the zip ---------------------------------------------------------------------------------

export interface BuiltZip {
  arch: Arch;
  file: string;
  bytes: number;
  unpackedBytes: number;
  entries: number;
  /** Standard base64 of the SHA-256, as recipes carry it. */
  sha256: string;
}

/** Parent folders before their contents: nucleus lite's unzip creates each entry in turn. */
function directoriesOf(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

export async function writeZip(file: string, entries: readonly PackageEntry[], extra: { path: string; data: Buffer }[]): Promise<{ unpackedBytes: number; count: number }> {
  const zip = new yazl.ZipFile();
  const all = [...entries.map((e) => e.path), ...extra.map((e) => e.path)];
  for (const d of directoriesOf(all)) zip.addEmptyDirectory(d, { mtime: MTIME, mode: 0o40755 });
  let unpackedBytes = 0;
  const items = [...entries.map((e) => ({ ...e, data: undefined as Buffer | undefined })), ...extra.map((e) => ({ path: e.path, source: '', mode: 0o644, data: e.data }))].sort((a, b) =>
    a.path < b.path ? -1 : 1,
  );
  for (const e of items) {
    if (e.data) {
      unpackedBytes += e.data.length;
      zip.addBuffer(e.data, e.path, { mtime: MTIME, mode: 0o100000 | e.mode, compressionLevel: 9 });
    } else {
      unpackedBytes += (await stat(e.source)).size;
      zip.addFile(e.source, e.path, { mtime: MTIME, mode: 0o100000 | e.mode, compressionLevel: 9 });
    }
  }
  zip.end();
  await mkdir(dirname(file), { recursive: true });
  await pipeline(zip.outputStream, createWriteStream(file));
  return { unpackedBytes, count: items.length };
}

export async function sha256Base64(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('base64');
}

// --- the recipe ------------------------------------------------------------------------------

/** The recipe template with the built artifacts: version, URI and digest per architecture. */
export function buildRecipe(template: string, version: string, bucket: string, zips: readonly BuiltZip[]): { text: string; name: string } {
  const doc = parseDocument(template);
  const name = String(doc.get('ComponentName'));
  doc.set('ComponentVersion', version);
  const manifests = doc.get('Manifests') as { items: unknown[] } | undefined;
  if (!manifests || !Array.isArray(manifests.items)) throw new Error('recipe template: no Manifests');
  type Manifest = { getIn(p: unknown[]): unknown; setIn(p: unknown[], v: unknown): void };
  // A manifest for an architecture that was not built (--arch) goes: no artifact to point at.
  manifests.items = (manifests.items as Manifest[]).filter((m) => {
    const target = Object.values(TARGETS).find((t) => t.greengrassArch === m.getIn(['Platform', 'architecture']));
    return !target || zips.some((z) => z.arch === target.arch);
  });
  for (const m of manifests.items as Manifest[]) {
    const arch = m.getIn(['Platform', 'architecture']);
    const target = Object.values(TARGETS).find((t) => t.greengrassArch === arch);
    if (!target) continue;
    const zip = zips.find((z) => z.arch === target.arch)!;
    const file = `${zipName(zip.arch)}.zip`;
    m.setIn(['Artifacts', 0, 'Uri'], `s3://${bucket}/${name}/${version}/${file}`);
    m.setIn(['Artifacts', 0, 'Digest'], zip.sha256);
    m.setIn(['Artifacts', 0, 'Algorithm'], 'SHA-256');
    m.setIn(['Artifacts', 0, 'Unarchive'], 'ZIP');
  }
  // Comments stay in the template: the built recipe is what nuclei read, and nucleus lite reads a
  // recipe file into a buffer of 8196 bytes (ggl-recipe/src/recipe.c, ggl_recipe_get_from_file).
  const plain = parseDocument(doc.toString());
  plain.comment = null;
  plain.commentBefore = null;
  stripComments(plain.contents);
  return { text: plain.toString({ lineWidth: 0 }), name };
}

function stripComments(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const n = node as { comment?: unknown; commentBefore?: unknown; items?: unknown[]; key?: unknown; value?: unknown };
  if ('comment' in n) n.comment = null;
  if ('commentBefore' in n) n.commentBefore = null;
  if (Array.isArray(n.items)) for (const i of n.items) stripComments(i);
  if ('key' in n) stripComments(n.key);
  if ('value' in n) stripComments(n.value);
}

// --- the command ------------------------------------------------------------------------------

export interface PackageOptions {
  projectDir: string;
  outDir: string;
  arches: Arch[];
  bucket: string;
  log?: (line: string) => void;
}

export interface PackageResult {
  name: string;
  version: string;
  zips: BuiltZip[];
  recipeFile: string;
  excluded: Record<string, { files: number; bytes: number }>;
}

export async function packageComponent(o: PackageOptions): Promise<PackageResult> {
  const log = o.log ?? (() => {});
  const pkg = JSON.parse(await readFile(join(o.projectDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const version = String(pkg.version);
  const template = await readFile(join(o.projectDir, 'recipe.yaml'), 'utf8');
  const name = String(parseDocument(template).get('ComponentName'));
  const packagingDir = join(o.projectDir, 'packaging');
  // What version.ts and Node's module loader need from package.json, nothing more.
  const slim = { name: pkg.name, version, description: pkg.description, license: pkg.license, type: pkg.type, engines: pkg.engines, private: true };
  const artifactDir = join(o.outDir, 'artifacts', name, version);
  await rm(o.outDir, { recursive: true, force: true });
  const zips: BuiltZip[] = [];
  let excluded: PackageResult['excluded'] = {};
  for (const arch of o.arches) {
    const sel = await selectFiles(o.projectDir, packagingDir, arch);
    excluded = sel.excluded;
    const file = join(artifactDir, `${zipName(arch)}.zip`);
    log(`packaging ${zipName(arch)}: ${sel.files.length + 1} files`);
    const { unpackedBytes, count } = await writeZip(file, sel.files, [{ path: 'package.json', data: Buffer.from(JSON.stringify(slim, null, 2) + '\n') }]);
    const bytes = (await stat(file)).size;
    if (bytes >= ZIP_BUDGET_BYTES) throw new Error(`${file} is ${bytes} bytes, over the budget of ${ZIP_BUDGET_BYTES}: something that does not run slipped in`);
    zips.push({ arch, file, bytes, unpackedBytes, entries: count, sha256: await sha256Base64(file) });
  }
  const recipe = buildRecipe(template, version, o.bucket, zips);
  const recipeDir = join(o.outDir, 'recipes');
  await mkdir(recipeDir, { recursive: true });
  const recipeFile = join(recipeDir, `${name}-${version}.yaml`);
  await writeFile(recipeFile, recipe.text);
  // `gdk component publish` reads the built recipe under the project recipe's own file name.
  await writeFile(join(recipeDir, 'recipe.yaml'), recipe.text);
  return { name, version, zips, recipeFile, excluded };
}

const HELP = `Usage: npm run package -- [--arch arm64,x64] [--bucket NAME] [--out DIR]

Builds the Greengrass component from the installed node_modules (run npm ci first; nothing is
downloaded): one zip per architecture in DIR/artifacts/<component>/<version>/, and the recipe,
with each zip's URI (s3://NAME/<component>/<version>/<zip>) and SHA-256 digest, in DIR/recipes/.

  --arch LIST    architectures, from arm64 (aarch64 cores, 64-bit Raspberry Pi OS) and x64
                 (default: both)
  --bucket NAME  the S3 bucket the zips will be uploaded to (default ${PLACEHOLDER_BUCKET}: fine for a
                 local deployment, which takes the artifacts from the folder)
  --out DIR      output folder (default greengrass-build, emptied first)
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: { arch: { type: 'string' }, bucket: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`package: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const arches = (values.arch ?? 'arm64,x64').split(',').map((a) => a.trim()).filter(Boolean);
  const bad = arches.filter((a) => !(a in TARGETS));
  if (bad.length > 0 || arches.length === 0) {
    process.stderr.write(`package: --arch: unknown architecture ${bad.join(', ') || '(none)'}; use arm64 and/or x64\n`);
    return 2;
  }
  const bucket = values.bucket ?? PLACEHOLDER_BUCKET;
  if (bucket !== PLACEHOLDER_BUCKET && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    process.stderr.write(`package: --bucket: "${bucket}" is not an S3 bucket name\n`);
    return 2;
  }
  const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const outDir = resolve(values.out ?? join(projectDir, 'greengrass-build'));
  const t0 = process.hrtime.bigint();
  const r = await packageComponent({ projectDir, outDir, arches: arches as Arch[], bucket, log: (l) => process.stderr.write(`${l}\n`) });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  for (const z of r.zips) {
    process.stdout.write(
      `${relative(process.cwd(), z.file)}: ${(z.bytes / 2 ** 20).toFixed(2)} MiB (${(z.unpackedBytes / 2 ** 20).toFixed(2)} MiB unpacked, ${z.entries} files), sha256 ${z.sha256}\n`,
    );
  }
  const left = Object.entries(r.excluded).map(([k, v]) => `${k} ${v.files} (${(v.bytes / 2 ** 20).toFixed(1)} MiB)`);
  process.stdout.write(`left out per package: ${left.join(', ')}\n`);
  process.stdout.write(`${relative(process.cwd(), r.recipeFile)}: ${r.name} ${r.version} (${ms.toFixed(0)} ms)\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`package: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
