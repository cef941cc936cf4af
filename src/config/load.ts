// Reads a configuration file (JSON or YAML) and the --expect input: files or
// pipes a person names, through the guarded reader (size cap while reading,
// a deadline, no devices).
import { Parser, parseDocument, type YAMLError } from 'yaml';
import { decodeUtf8, InputRefusedError, readNamedInput } from '../io/guarded-read.js';
import { parseStrictJson } from '../model/strict-json.js';
import { ConfigError } from './config.js';

/** A configuration file or an expectation is small; a megabyte is far more than either needs. */
export const DEFAULT_INPUT_MAX_BYTES = 1024 * 1024;

/**
 * How long a named input may take to arrive and end. `<(aws ...)` waits for
 * the AWS CLI's start and its call; a FIFO nobody writes to ends in an error.
 */
export const DEFAULT_INPUT_TIMEOUT_MS = 30_000;

export interface InputOptions {
  /** Default DEFAULT_INPUT_TIMEOUT_MS. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function why(err: unknown): string {
  // A refusal says what is wrong in words; an I/O error by its code (ENOENT, EACCES).
  if (err instanceof InputRefusedError) return err.detail;
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

export async function readConfigFile(path: string, opts: InputOptions = {}): Promise<unknown> {
  let text: string;
  try {
    text = await readInput(path, DEFAULT_INPUT_MAX_BYTES, opts);
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${why(err)}`);
  }
  return parseConfigText(text, `config file ${path}`);
}

/** Most YAML errors listed for one file: past the first few, the rest are usually echoes. */
const MAX_YAML_ERRORS = 5;

/**
 * Parses a configuration: YAML, which is a superset of JSON, so one parser
 * reads both. A text that looks like JSON and is not valid is said by the
 * strict JSON reader, whose position is the very character that is wrong.
 * `name` leads every message.
 */
export function parseConfigText(text: string, name: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length === 0) {
    try {
      return doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      throw new ConfigError((err as Error).message, name);
    }
  }
  if (/^\s*[{[]/.test(text)) {
    const json = parseStrictJson(text, { bom: 'skip' });
    if (!json.ok) throw new ConfigError(json.error, `${name} is not valid JSON`);
    return json.value;
  }
  throw new ConfigError(yamlProblems(text, doc.errors), `${name} is not valid YAML`);
}

interface Unclosed {
  offset: number;
  what: string;
}

/** Flow collections without their closing bracket and quoted scalars without their closing quote. */
function unclosedConstructs(text: string): Unclosed[] {
  const found: Unclosed[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const t = node as { type?: string; offset?: number; source?: string; start?: { source?: string }; end?: { source?: string }[] };
    if (t.type === 'flow-collection' && typeof t.offset === 'number') {
      const open = t.start?.source ?? '';
      const close = open === '[' ? ']' : '}';
      if (!(t.end ?? []).some((e) => e.source === close)) found.push({ offset: t.offset, what: `the ${open} here is never closed` });
    } else if ((t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') && typeof t.offset === 'number') {
      const q = t.type === 'double-quoted-scalar' ? '"' : "'";
      const src = t.source ?? '';
      if (src.length < 2 || !src.endsWith(q)) found.push({ offset: t.offset, what: `the ${q} here is never closed` });
    }
    for (const v of Object.values(t)) if (v && typeof v === 'object') visit(v);
  };
  for (const token of new Parser().parse(text)) visit(token);
  return found;
}

/**
 * Where a person should look for each YAML error. The parser notices an
 * unclosed quote or bracket only where the text stops making sense, often
 * lines later: the error is placed where the construct opens. A key that runs
 * on to the next line is wrong on that next line. Errors starting at one place
 * are one mistake.
 */
function yamlProblems(text: string, errors: readonly YAMLError[]): string[] {
  const unclosed = unclosedConstructs(text);
  const bySpot = new Map<number, { at: number; message: string; note: string }>();
  for (const err of errors) {
    const [start, end] = err.pos;
    const opened = unclosed.filter((u) => u.offset < start).sort((a, b) => b.offset - a.offset)[0];
    const at = opened ? opened.offset : err.code === 'MULTILINE_IMPLICIT_KEY' ? end : start;
    const note = opened ? ` (${opened.what}; noticed at ${where(lineCol(text, start))})` : '';
    const message = err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
    const key = opened ? opened.offset : start;
    const had = bySpot.get(key);
    if (!had || at > had.at) bySpot.set(key, { at, message, note });
  }
  return [...bySpot.values()]
    .sort((a, b) => a.at - b.at)
    .slice(0, MAX_YAML_ERRORS)
    .map((p) => `${where(lineCol(text, p.at))}: ${p.message}${p.note}`);
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

function where(p: { line: number; col: number }): string {
  return `line ${p.line}, column ${p.col}`;
}

/**
 * Reads a file, a pipe, or standard input for "-", as UTF-8 text (a leading
 * byte-order mark dropped), with a size cap enforced while reading and a
 * deadline. Rejects with InputRefusedError (its message says what is wrong)
 * or Node's I/O error (with its code).
 */
export async function readInput(path: string, maxBytes = DEFAULT_INPUT_MAX_BYTES, opts: InputOptions = {}): Promise<string> {
  const name = path === '-' ? 'standard input' : path;
  const buf = await readNamedInput(path, {
    maxBytes,
    timeoutMs: opts.timeoutMs ?? DEFAULT_INPUT_TIMEOUT_MS,
    name,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return decodeUtf8(buf, name);
}
