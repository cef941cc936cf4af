// A strict JSON reader for documents that decide a verdict. Pure: no I/O.
//
// It reads RFC 8259 JSON exactly, and refuses what JSON.parse lets through
// silently or what JSON.parse cannot bound:
// - a key twice in one object (JSON.parse keeps the last: a check written
//   against the first copy would be lost);
// - nesting deeper than maxDepth (default 64): recursion stays bounded
//   whatever the input;
// - bytes that are not UTF-8, when given bytes (decodeUtf8Strict), and a
//   byte order mark. A file a person hands over may start with one (editors
//   on Windows write it; it is no content): `bom: 'skip'` skips it there, and
//   only there. A file the device's own software wrote never carries one, and
//   that software would not read it: by default it is refused.
// A character that cannot be seen (a BOM, a control or format character) is
// named in messages by its code point, never printed as itself.
// Values come out as JSON.parse makes them; a key `__proto__` is an own
// property, never a prototype. A sequence of documents separated by white
// space (JSON lines, or the pretty outputs of a shell loop one after another)
// is read by parseStrictJsonSequence, each document with its first line.
import { TextDecoder } from 'node:util';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type StrictJsonResult =
  | { ok: true; value: JsonValue }
  | {
      ok: false;
      /** What is wrong and where, e.g. `duplicate key "Arn" in $ at line 3 column 5`. */
      error: string;
      /** Index in the text (UTF-16 code units) where reading stopped. */
      offset: number;
    };

export interface StrictJsonOptions {
  /** Deepest nesting of arrays and objects accepted; the top-level value is depth 1. */
  maxDepth?: number;
  /** A byte order mark at the very start: refused (the default), or skipped for files people hand over. */
  bom?: 'refuse' | 'skip';
}

export const DEFAULT_MAX_DEPTH = 64;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes as UTF-8, refusing anything that is not. */
export function decodeUtf8Strict(bytes: Uint8Array): { ok: true; text: string } | { ok: false; error: string } {
  try {
    return { ok: true, text: fatalUtf8.decode(bytes) };
  } catch {
    return { ok: false, error: `not valid UTF-8 (first bad byte at offset ${firstBadUtf8(bytes)})` };
  }
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstBadUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    let lo = 0x80;
    let hi = 0xbf;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
    else if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return i;
}

class JsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const BOM = 0xfeff;

/** Characters a message would show as nothing (or as a blank) and that must be named instead. */
const INVISIBLE = /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}\p{Co}\p{Cn}\p{Cs}]$/u;

/** The character at `i` as a message shows it: quoted when it can be seen, else by its code point. */
function shown(s: string, i: number): string {
  const cp = s.codePointAt(i);
  if (cp === undefined) return 'end of the document';
  const c = String.fromCodePoint(cp);
  if (c !== ' ' && !INVISIBLE.test(c)) return JSON.stringify(c);
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return cp === BOM ? `${u} (a byte order mark)` : u;
}

/** Where reading starts: past a byte order mark at the very start when it is to be skipped, the one place it may be. */
function start(text: string, opts: StrictJsonOptions): number {
  return opts.bom === 'skip' && text.charCodeAt(0) === BOM ? 1 : 0;
}
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Reader {
  i = 0;
  private readonly path: string[] = [];

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  fail(message: string, at = this.i): never {
    throw new JsonError(message, at);
  }

  ws(): void {
    while (this.i < this.s.length && WS.has(this.s.charCodeAt(this.i))) this.i++;
  }

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  where(): string {
    return this.path.length === 0 ? '$' : `$${this.path.join('')}`;
  }

  value(depth: number): JsonValue {
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.word('true', true);
      case 'f':
        return this.word('false', false);
      case 'n':
        return this.word('null', null);
      case undefined:
        return this.fail('unexpected end of the document');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        return this.fail(`unexpected character ${shown(this.s, this.i)}`);
    }
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels at ${this.where()}`);
  }

  private object(depth: number): { [key: string]: JsonValue } {
    this.enter(depth);
    this.i++;
    const out: { [key: string]: JsonValue } = {};
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail(`expected a key in ${this.where()}`);
      const at = this.i;
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)} in ${this.where()}`, at);
      seen.add(key);
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`expected ':' after key ${JSON.stringify(key)} in ${this.where()}`);
      this.i++;
      this.ws();
      this.path.push(/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
      const v = this.value(depth);
      this.path.pop();
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === '}') return out;
      if (c !== ',') this.fail(`expected ',' or '}' in ${this.where()}`, this.i - 1);
    }
  }

  private array(depth: number): JsonValue[] {
    this.enter(depth);
    this.i++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      this.path.push(`[${out.length}]`);
      out.push(this.value(depth));
      this.path.pop();
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ']') return out;
      if (c !== ',') this.fail(`expected ',' or ']' in ${this.where()}`, this.i - 1);
    }
  }

  private string(): string {
    const start = ++this.i;
    let out = '';
    let run = start;
    for (;;) {
      const code = this.s.charCodeAt(this.i);
      if (Number.isNaN(code)) return this.fail('unterminated string', start - 1);
      if (code === 0x22) {
        out += this.s.slice(run, this.i);
        this.i++;
        return out;
      }
      if (code < 0x20) return this.fail('control character inside a string (it must be escaped)');
      if (code !== 0x5c) {
        this.i++;
        continue;
      }
      out += this.s.slice(run, this.i);
      const e = this.s[this.i + 1];
      if (e === 'u') {
        const hex = this.s.slice(this.i + 2, this.i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.i += 6;
      } else if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
        this.i += 2;
      } else {
        this.fail(`bad escape \\${e ?? ''}`);
      }
      run = this.i;
    }
  }

  private number(): number {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) return this.fail('bad number');
    this.i += m[0].length;
    return Number(m[0]);
  }

  private word<T extends JsonValue>(w: string, v: T): T {
    if (this.s.startsWith(w, this.i)) {
      this.i += w.length;
      return v;
    }
    return this.fail(`unexpected character ${shown(this.s, this.i)}`);
  }
}

function lineColumn(s: string, offset: number): string {
  let line = 1;
  let col = 1;
  // A leading BOM takes no column: editors show none (one refused is at column 1 either way).
  for (let i = start(s, { bom: 'skip' }); i < offset && i < s.length; i++) {
    if (s.charCodeAt(i) === 0x0a) {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line} column ${col}`;
}

/** Reads one JSON document strictly (see the top of this file). */
export function parseStrictJson(text: string, opts: StrictJsonOptions = {}): StrictJsonResult {
  const r = new Reader(text, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  try {
    r.i = start(text, opts);
    r.ws();
    const value = r.value(0);
    r.ws();
    if (r.i < text.length) r.fail(`unexpected text after the JSON value (${shown(text, r.i)})`);
    return { ok: true, value };
  } catch (err) {
    if (!(err instanceof JsonError)) throw err;
    return { ok: false, error: `${err.message} at ${lineColumn(text, err.offset)}`, offset: err.offset };
  }
}

/** Decodes and reads a document given as bytes: UTF-8 only, then strict JSON. */
export function parseStrictJsonBytes(bytes: Uint8Array, opts: StrictJsonOptions = {}): StrictJsonResult {
  const d = decodeUtf8Strict(bytes);
  if (!d.ok) return { ok: false, error: d.error, offset: 0 };
  return parseStrictJson(d.text, opts);
}

/** One document of a sequence, with the line it starts on (1-based). */
export interface JsonDocument {
  value: JsonValue;
  line: number;
}

export type StrictJsonSequenceResult =
  | { ok: true; documents: JsonDocument[] }
  | { ok: false; error: string; offset: number };

/** Reads one or more documents separated by white space, each as strictly as parseStrictJson. */
export function parseStrictJsonSequence(text: string, opts: StrictJsonOptions = {}): StrictJsonSequenceResult {
  const r = new Reader(text, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  const documents: JsonDocument[] = [];
  let line = 1;
  let counted = 0;
  try {
    r.i = start(text, opts);
    r.ws();
    while (!r.atEnd()) {
      for (; counted < r.i; counted++) if (text.charCodeAt(counted) === 0x0a) line++;
      documents.push({ value: r.value(0), line });
      const end = r.i;
      r.ws();
      // `}{` is unambiguous (jq reads it too); two numbers or words need white space between.
      if (!r.atEnd() && r.i === end && !'}]"'.includes(text[end - 1] ?? '')) r.fail('documents must be separated by white space or a new line');
    }
    return { ok: true, documents };
  } catch (err) {
    if (!(err instanceof JsonError)) throw err;
    return { ok: false, error: `${err.message} at ${lineColumn(text, err.offset)}`, offset: err.offset };
  }
}
