// Sieve's JavaScript SDK: write a supervision model as a `Model` subclass, try it locally on CSV
// files (`node sdk/js/local.mjs app.js DATA_DIR`), and build it into a component with `sieve build`
// (componentize-js). The same shapes as the Rust and Python SDKs.
//
//     import { Model, ModelInfo, TableSpec, Clue, ops, exportModel } from "sieve-sdk";
//
//     class MyModel extends Model {
//       static describe() {
//         return new ModelInfo("my-model", "0.1.0").task("restricted-debtor-travel", "person").input(...);
//       }
//       static run(ctx) {
//         const travel = ctx.table("travel").load(["person_id", "mode"]);
//         ...
//         ctx.emit(new Clue(subject, 0.9, "rule-id", "why").evidence("travel", [row]));
//       }
//     }
//
//     export const model = exportModel(MyModel); // what componentize-js exports
//
// Columns are typed arrays over the host's bytes (`sieve:model@0.1.2` raw reads), never one object
// per cell, so a million-row table fits SpiderMonkey's heap. The traps an author meets:
// - text offsets count UTF-8 *bytes*, not UTF-16 units (`(2017)浙0102民初49号` is 25 bytes);
// - key columns are dictionary-encoded: group and join on `codes`, decode only what becomes a clue;
// - nulls live in a validity bitmap, and a null slot holds a placeholder: use `get(i)` (null where
//   null) or check `isValid(i)` before reading `values[i]`;
// - int64 values are `BigInt`s (`get`), or Numbers through `number(i)` when they fit; timestamps
//   and dates are Numbers (milliseconds, days);
// - `emit` batches clues for the host: call `ctx.emit` per clue, never build a list of them all.

/** The host's limits on one clue (a clue past them fails the run). */
export const MAX_SUBJECT_BYTES = 1024;
export const MAX_RULE_BYTES = 64;
export const MAX_REASON_BYTES = 4096;
export const MAX_EVIDENCE_ROWS = 256;

/** Rows per `table.read` when a table is loaded whole. */
export const LOAD_BATCH_ROWS = 1 << 20;
/** Clues handed to the host per `emit` call. */
export const EMIT_BATCH = 512;
export const LOG_LEVELS = ["debug", "info", "warn", "error"];
export const MS_PER_DAY = 86400000;

/** Why a model gave up: throw one of the subclasses from `run`. */
export class ModelError extends Error {
  get kind() {
    return "failed";
  }
}

/** A parameter value is out of range; the message says which and why. */
export class BadParam extends ModelError {
  get kind() {
    return "bad-param";
  }
}

/** The data is unusable for the model; the message says where. */
export class BadData extends ModelError {
  get kind() {
    return "bad-data";
  }
}

/** A table the model reads, with the columns it declares (and may read) and their types. */
export class TableSpec {
  constructor(name) {
    this.name = name;
    this.columns = [];
  }
  _add(names, type) {
    for (const name of typeof names === "string" ? [names] : names) this.columns.push({ name, type });
    return this;
  }
  text(names) {
    return this._add(names, "text");
  }
  int64(names) {
    return this._add(names, "int64");
  }
  float64(names) {
    return this._add(names, "float64");
  }
  boolean(names) {
    return this._add(names, "boolean");
  }
  date(names) {
    return this._add(names, "date");
  }
  timestamp(names) {
    return this._add(names, "timestamp");
  }
  find(name) {
    return this.columns.find((c) => c.name === name);
  }
}

/** Identity, task, inputs and parameters, built fluently. */
export class ModelInfo {
  constructor(name, version) {
    this.name = name;
    this.version = version;
    this.summaryText = "";
    this.taskId = "";
    this.subjectKind = "";
    this.inputs = [];
    this.params = [];
  }
  summary(text) {
    this.summaryText = text;
    return this;
  }
  task(id, subjectKind) {
    this.taskId = id;
    this.subjectKind = subjectKind;
    return this;
  }
  input(spec) {
    this.inputs.push(spec);
    return this;
  }
  _param(name, type, value, description) {
    this.params.push({ name, type, default: value, description });
    return this;
  }
  paramInt(name, value, description) {
    return this._param(name, "int", value, description);
  }
  paramFloat(name, value, description) {
    return this._param(name, "float", value, description);
  }
  paramBool(name, value, description) {
    return this._param(name, "boolean", value, description);
  }
  paramText(name, value, description) {
    return this._param(name, "text", value, description);
  }
}

/** Subclass this: static `describe()` returns a ModelInfo, static `run(ctx)` reads and emits. */
export class Model {
  static describe() {
    throw new ModelError("describe() is not implemented");
  }
  static run(_ctx) {
    throw new ModelError("run() is not implemented");
  }
}

/** A lead for a prosecutor: subject, score in [0, 1], rule id, reason, evidence rows. */
export class Clue {
  constructor(subject, score, rule, reason = "") {
    this.subject = subject;
    this.score = score;
    this.rule = rule;
    this.reason = reason;
    this.evidenceRows = [];
  }
  /** Add rows of `table` as evidence, up to MAX_EVIDENCE_ROWS per clue (rows past it are left
   * out rather than failing the run: list the telling rows first). */
  evidence(table, rows) {
    for (const row of rows) {
      if (this.evidenceRows.length >= MAX_EVIDENCE_ROWS) break;
      this.evidenceRows.push({ table, row: Number(row) });
    }
    return this;
  }
}

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

function utf8Length(text) {
  return utf8Encoder.encode(text).length;
}

function isControl(text) {
  for (const ch of text) {
    const o = ch.codePointAt(0);
    if (o < 0x20 || (o >= 0x7f && o < 0xa0) || (o >= 0x202a && o <= 0x202e) || (o >= 0x2066 && o <= 0x2069)) {
      return true;
    }
  }
  return false;
}

/** The host's rules for a clue, so that a model's local tests catch what the host refuses.
 * `rowCounts` maps each declared table to its rows. Returns why the clue is invalid, or null. */
export function checkClue(clue, rowCounts) {
  const { subject, rule, score, reason } = clue;
  if (typeof subject !== "string" || !subject.trim() || utf8Length(subject) > MAX_SUBJECT_BYTES || isControl(subject)) {
    return `subject ${JSON.stringify(subject)} must be 1-${MAX_SUBJECT_BYTES} bytes without control characters`;
  }
  if (typeof rule !== "string" || !rule || utf8Length(rule) > MAX_RULE_BYTES || isControl(rule)) {
    return `${subject}: rule ${JSON.stringify(rule)} must be 1-${MAX_RULE_BYTES} bytes without control characters`;
  }
  if (typeof score !== "number" || !(score >= 0 && score <= 1)) return `${subject}: score ${score} is not in [0, 1]`;
  if (utf8Length(reason) > MAX_REASON_BYTES || clue.evidenceRows.length > MAX_EVIDENCE_ROWS) {
    return `${subject}: reason over ${MAX_REASON_BYTES} bytes or over ${MAX_EVIDENCE_ROWS} evidence rows`;
  }
  for (const e of clue.evidenceRows) {
    const rows = rowCounts[e.table];
    if (rows === undefined) return `${subject}: evidence names table ${JSON.stringify(e.table)}, which the model did not declare`;
    if (!(e.row >= 0 && e.row < rows)) return `${subject}: evidence row ${e.row} of ${JSON.stringify(e.table)} is past its ${rows} rows`;
  }
  return null;
}

/** Values back to back as UTF-8 bytes, with byte offsets (a Uint32Array of `length + 1`):
 * value i is `bytes[offsets[i]..offsets[i + 1]]`, decoded only when asked for. */
export class Strings {
  constructor(bytes, offsets) {
    this.bytes = bytes;
    this.offsets = offsets;
  }
  get length() {
    return Math.max(this.offsets.length - 1, 0);
  }
  value(i) {
    return utf8.decode(this.bytes.subarray(this.offsets[i], this.offsets[i + 1]));
  }
  /** Whether value i is exactly the UTF-8 bytes `wanted`, with nothing decoded. */
  equalsBytes(i, wanted) {
    const start = this.offsets[i];
    if (this.offsets[i + 1] - start !== wanted.length) return false;
    for (let k = 0; k < wanted.length; k++) if (this.bytes[start + k] !== wanted[k]) return false;
    return true;
  }
  /** Several batches' strings as one. */
  static join(parts) {
    if (parts.length === 1) return parts[0];
    const bytes = concat(parts.map((p) => p.bytes), Uint8Array);
    const offsets = new Uint32Array(parts.reduce((n, p) => n + p.length, 0) + 1);
    let at = 0;
    let base = 0;
    for (const p of parts) {
      for (let i = 1; i <= p.length; i++) offsets[at + i] = base + p.offsets[i];
      at += p.length;
      base += p.bytes.length;
    }
    return new Strings(bytes, offsets);
  }
}

/** Typed arrays joined into one. */
function concat(parts, Type) {
  if (parts.length === 1) return parts[0];
  const out = new Type(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The distinct values of a key domain; codes index it. Columns with the same `id` share it. */
export class Dictionary {
  constructor(id, strings) {
    this.id = id;
    this.strings = strings;
    this._codeOf = null;
  }
  get length() {
    return this.strings.length;
  }
  value(code) {
    return this.strings.value(code);
  }
  /** The code of `text`, or null if the dictionary does not hold it. A small dictionary builds a
   * lookup table on first use; a large one (a key domain of a million ids) is scanned by bytes,
   * so that looking up a few constants does not decode every value. */
  codeOf(text) {
    if (this._codeOf === null && this.length <= 4096) {
      this._codeOf = new Map();
      for (let c = 0; c < this.length; c++) this._codeOf.set(this.value(c), c);
    }
    if (this._codeOf !== null) return this._codeOf.has(text) ? this._codeOf.get(text) : null;
    const wanted = utf8Encoder.encode(text);
    for (let c = 0; c < this.length; c++) if (this.strings.equalsBytes(c, wanted)) return c;
    return null;
  }
}

/** One column of a loaded table: `values` (a typed array; a placeholder where null), `validity`
 * (a bitmap, or null when the column has no nulls), `get(i)` (null where null). */
export class Column {
  constructor(name, type, values, validity) {
    this.name = name;
    this.type = type;
    this.values = values;
    this.validity = validity;
    // Where the whole column came from ([backend, table handle]), so `ops.Index` can ask the
    // host to group it.
    this.source = null;
  }
  /** A column of `type` over `values`: booleans and timestamps read through their own `get`. */
  static of(name, type, values, validity) {
    if (type === "boolean") return new BooleanColumn(name, type, values, validity);
    if (type === "timestamp") return new TimestampColumn(name, type, values, validity);
    return new Column(name, type, values, validity);
  }
  get length() {
    return this.values.length;
  }
  isValid(i) {
    return this.validity === null || ((this.validity[i >> 3] >> (i & 7)) & 1) === 1;
  }
  get(i) {
    return this.validity === null || ((this.validity[i >> 3] >> (i & 7)) & 1) === 1 ? this.values[i] : null;
  }
  /** An int64 or timestamp value as a Number (null where null); a BadData error if it does not
   * fit a double exactly. */
  number(i) {
    if (!this.isValid(i)) return null;
    const v = this.values[i];
    if (typeof v !== "bigint") return v;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new BadData(`${this.name} row ${i}: ${v} does not fit a JavaScript number; use get()`);
    }
    return Number(v);
  }
}

/** Booleans: one byte per row, read as true or false. */
class BooleanColumn extends Column {
  get(i) {
    return this.validity === null || ((this.validity[i >> 3] >> (i & 7)) & 1) === 1 ? this.values[i] === 1 : null;
  }
}

/** Timestamps: milliseconds since the epoch, read as Numbers (exact to the year 287396). */
class TimestampColumn extends Column {
  get(i) {
    return this.validity === null || ((this.validity[i >> 3] >> (i & 7)) & 1) === 1 ? Number(this.values[i]) : null;
  }
  /** The UTC day of row i (days since 1970-01-01), or null where null. */
  day(i) {
    const ms = this.get(i);
    return ms === null ? null : Math.floor(ms / MS_PER_DAY);
  }
}

/** A text column: plain (`strings`) or dictionary-encoded (`codes` into `dictionary`). */
export class TextColumn extends Column {
  constructor(name, validity, { strings = null, codes = null, dictionary = null }) {
    super(name, "text", codes ?? new Uint32Array(0), validity);
    this.strings = strings;
    this.codes = codes;
    this.dictionary = dictionary;
  }
  get length() {
    return this.codes !== null ? this.codes.length : this.strings.length;
  }
  get dictionaryId() {
    return this.dictionary === null ? null : this.dictionary.id;
  }
  get(i) {
    if (!this.isValid(i)) return null;
    return this.codes !== null ? this.dictionary.value(this.codes[i]) : this.strings.value(i);
  }
  /** Row i's dictionary code (null where null or when the column is not encoded). */
  code(i) {
    return this.codes === null || !this.isValid(i) ? null : this.codes[i];
  }
  /** The code `text` has in this column's dictionary (null if absent or not encoded): compare
   * codes, not strings, in a loop over rows. */
  codeOf(text) {
    return this.dictionary === null ? null : this.dictionary.codeOf(text);
  }
  /** One byte per row (a Uint8Array): 1 where the row holds one of `texts`, 0 where it does not
   * or is null. Inside a component the host computes it (`table.matches`), so a filter over a
   * million rows costs the model one array read per row. */
  matches(texts) {
    if (this.source !== null) {
      const [backend, handle] = this.source;
      const flags = backend.matches(handle, this.name, texts);
      if (flags !== null) return flags;
    }
    const test = this.oneOf(texts);
    const out = new Uint8Array(this.length);
    for (let row = 0; row < out.length; row++) out[row] = test(row) ? 1 : 0;
    return out;
  }

  /** A test `(row) => boolean`: whether the row holds one of `texts` (false where null). On a
   * dictionary-encoded column it reads a flag per code, so a loop over a million rows decodes
   * nothing and hashes nothing. */
  oneOf(texts) {
    if (this.codes !== null) {
      const flags = new Uint8Array(this.dictionary.length);
      for (const t of texts) {
        const code = this.codeOf(t);
        if (code !== null) flags[code] = 1;
      }
      const codes = this.codes;
      const validity = this.validity;
      if (validity === null) return (row) => flags[codes[row]] === 1;
      return (row) => flags[codes[row]] === 1 && ((validity[row >> 3] >> (row & 7)) & 1) === 1;
    }
    const wanted = new Set(texts);
    return (row) => wanted.has(this.get(row));
  }
}

/** A table's declared columns, loaded whole. */
export class Frame {
  constructor(table, length, columns) {
    this.table = table;
    this.length = length;
    this.columns = columns;
  }
  column(name) {
    const c = this.columns.get(name);
    if (c === undefined) throw new BadData(`${this.table}.${name} was not loaded`);
    return c;
  }
  _typed(name, type) {
    const c = this.column(name);
    if (c.type !== type) throw new BadData(`${this.table}.${name} is ${c.type}, not ${type}`);
    return c;
  }
  text(name) {
    return this._typed(name, "text");
  }
  int64(name) {
    return this._typed(name, "int64");
  }
  float64(name) {
    return this._typed(name, "float64");
  }
  boolean(name) {
    return this._typed(name, "boolean");
  }
  date(name) {
    return this._typed(name, "date");
  }
  timestamp(name) {
    return this._typed(name, "timestamp");
  }
}

const EMPTY = new Uint32Array(0);

/** The rows of each distinct non-null value of a column, groups in order of first appearance and
 * rows ascending (as the Rust SDK's `Index`). `minRows` keeps only groups of at least that many
 * rows. Inside a component the host groups the column (`table.group`, a counting sort over
 * dictionary codes): the index is three typed arrays, and nothing is hashed here. */
export class Index {
  constructor(column, rows, starts, groupOfCode, groupOfKey) {
    this._column = column;
    this._rows = rows;
    this._starts = starts;
    // Dictionary columns: 1 + the group of each code (0: none). Others: a Map key -> group.
    this._groupOfCode = groupOfCode;
    this._groupOfKey = groupOfKey;
    this._byText = null;
  }

  static build(column, minRows = 1) {
    if (column.source !== null) {
      const [backend, handle] = column.source;
      const grouped = backend.group(handle, column.name, Math.max(minRows, 0));
      if (grouped !== null) {
        const [rows, starts, groupOfCode] = grouped;
        return new Index(column, rows, starts, column.codes !== null ? groupOfCode : null, null);
      }
    }
    return Index._buildHere(column, minRows);
  }

  static _buildHere(column, minRows) {
    const groups = new Map();
    const n = column.length;
    for (let i = 0; i < n; i++) {
      if (!column.isValid(i)) continue;
      const key = column.codes !== null ? column.codes[i] : column.strings ? column.strings.value(i) : column.values[i];
      const rows = groups.get(key);
      if (rows === undefined) groups.set(key, [i]);
      else rows.push(i);
    }
    const flat = [];
    const starts = [0];
    const groupOfKey = new Map();
    for (const [key, rows] of groups) {
      if (rows.length >= minRows) {
        groupOfKey.set(key, starts.length - 1);
        for (const r of rows) flat.push(r);
        starts.push(flat.length);
      }
    }
    return new Index(column, Uint32Array.from(flat), Uint32Array.from(starts), null, groupOfKey);
  }

  /** Number of groups kept. */
  get length() {
    return this._starts.length - 1;
  }

  /** The rows of group `g` (0-based, in order of first appearance), as a Uint32Array view. */
  group(g) {
    return this._rows.subarray(this._starts[g], this._starts[g + 1]);
  }

  /** [value, rows] for each group kept, in order of first appearance. */
  *groups() {
    for (let g = 0; g < this.length; g++) {
      const rows = this.group(g);
      yield [this._column.get(rows[0]), rows];
    }
  }

  /** The group of a value (text, or the column's own value type), or -1. */
  _groupOf(value) {
    if (this._groupOfKey !== null && this._column.codes == null) {
      const g = this._groupOfKey.get(value);
      return g === undefined ? -1 : g;
    }
    if (this._groupOfCode !== null) {
      const code = this._column.dictionary.codeOf(value);
      return code === null ? -1 : this._groupOfCode[code] - 1;
    }
    if (this._byText === null) {
      this._byText = new Map();
      for (let g = 0; g < this.length; g++) this._byText.set(this._column.get(this.group(g)[0]), g);
    }
    const g = this._byText.get(value);
    return g === undefined ? -1 : g;
  }

  /** The rows holding `value`; empty if none, or if its group had fewer than minRows. */
  get(value) {
    const g = this._groupOf(value);
    return g < 0 ? EMPTY : this.group(g);
  }

  /** The group of dictionary code `code` of this index's dictionary, or -1. */
  groupOfCode(code) {
    if (this._groupOfCode !== null) return code < this._groupOfCode.length ? this._groupOfCode[code] - 1 : -1;
    const g = this._groupOfKey === null ? undefined : this._groupOfKey.get(code);
    return g === undefined ? -1 : g;
  }

  /** The group holding the value that row `i` of `column` holds, or -1 (none, or null): by code
   * when `column` shares this index's dictionary (no text decoded), by value otherwise. */
  groupOfRow(column, i) {
    const mine = this._column;
    if (mine.codes != null && column.codes != null && column.dictionaryId === mine.dictionaryId) {
      const code = column.code(i);
      return code === null ? -1 : this.groupOfCode(code);
    }
    const value = column.get(i);
    return value === null ? -1 : this._groupOf(value);
  }

  /** `groupOfRow` for one column, as a function of the row: over a shared dictionary it reads two
   * arrays and nothing else, the form a loop over a million rows wants. */
  lookup(column) {
    const mine = this._column;
    if (this._groupOfCode !== null && column.codes != null && column.dictionaryId === mine.dictionaryId) {
      const [codes, groups, validity] = [column.codes, this._groupOfCode, column.validity];
      if (validity === null) return (row) => groups[codes[row]] - 1;
      return (row) => (((validity[row >> 3] >> (row & 7)) & 1) === 1 ? groups[codes[row]] - 1 : -1);
    }
    return (row) => this.groupOfRow(column, row);
  }

  /** The rows holding the value that row `i` of `column` holds (see `groupOfRow`); empty if none. */
  rowsOf(column, i) {
    const g = this.groupOfRow(column, i);
    return g < 0 ? EMPTY : this.group(g);
  }

  /** The value of group `g`. */
  key(g) {
    return this._column.get(this.group(g)[0]);
  }
}

/** Share of `items` for which `test` says true, among those where it says anything (null or
 * undefined: unknown, e.g. a null cell); 0 when nothing is known. */
function share(items, test) {
  let known = 0;
  let hits = 0;
  for (const item of items) {
    const hit = test(item);
    if (hit !== null && hit !== undefined) {
      known++;
      if (hit) hits++;
    }
  }
  return known === 0 ? 0 : hits / known;
}

/** Whether `day` lies in [start, end] (end null: open). */
function within(day, start, end) {
  return day >= start && (end === null || day <= end);
}

/** Days from `start` to `end` (dates are days since 1970-01-01). */
function daysBetween(start, end) {
  return end - start;
}

/** Texts in Unicode code point order (the order of their UTF-8 bytes, as Rust and Python sort
 * strings), not JavaScript's default UTF-16 order, which differs past U+FFFF. */
const ABOVE_SURROGATES = /[\uD800-\uFFFF]/;

function compareText(a, b) {
  if (a === b) return 0;
  // JavaScript's own order agrees unless a surrogate pair meets U+E000..U+FFFF.
  if (!ABOVE_SURROGATES.test(a) || !ABOVE_SURROGATES.test(b)) return a < b ? -1 : 1;
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const p = x.next();
    const q = y.next();
    if (p.done || q.done) return p.done && q.done ? 0 : p.done ? -1 : 1;
    const d = p.value.codePointAt(0) - q.value.codePointAt(0);
    if (d !== 0) return d;
  }
}

/** `items` sorted by the text `key(item)` gives, in code point order (see `compareText`): each key
 * is computed once, and when no key holds a character past U+D7FF the engine's own string
 * comparison gives that order, with no per-comparison work in JavaScript. */
function sortByText(items, key) {
  const keyed = items.map((item) => [key(item), item]);
  const plain = keyed.every(([k]) => !ABOVE_SURROGATES.test(k));
  keyed.sort(plain ? ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0) : ([a], [b]) => compareText(a, b));
  return keyed.map(([, item]) => item);
}

/** The operators a rule is made of. */
export const ops = { Index, share, within, daysBetween, compareText, sortByText };

/** One column of one batch as a backend hands it over: `kind` is a column type, or `dictionary`
 * (then `payload` is the codes), or `text` (then `payload` is Strings). */
export class RawColumn {
  constructor(name, kind, payload, validity) {
    this.name = name;
    this.kind = kind;
    this.payload = payload;
    this.validity = validity;
  }
}

/** What `run` gets: parameters, the declared tables, and the clue sink (batched). */
export class Context {
  constructor(backend, params) {
    this._backend = backend;
    this._params = params;
    this._pending = [];
    this._dictionaries = new Map();
    // Rows per read when a table is loaded whole (the SDK's tests make it small).
    this.loadBatchRows = LOAD_BATCH_ROWS;
  }
  /** The value of declared parameter `name` (its default unless the caller set it). */
  param(name) {
    if (!(name in this._params)) throw new BadParam(`parameter ${JSON.stringify(name)} was not declared`);
    return this._params[name];
  }
  table(name) {
    return new TableReader(this, this._backend.openTable(name), name);
  }
  /** Emit a clue (buffered, handed to the host in batches). */
  emit(clue) {
    this._pending.push(clue);
    if (this._pending.length >= EMIT_BATCH) this.flush();
  }
  flush() {
    if (this._pending.length > 0) {
      this._backend.emit(this._pending);
      this._pending = [];
    }
  }
  log(level, message) {
    if (!LOG_LEVELS.includes(level)) throw new Error(`log level ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(", ")}`);
    this._backend.log(level, String(message));
  }
  progress(done, total) {
    this._backend.progress(done, total);
  }
  /** A column's dictionary: fetched once per dictionary id, shared by every column with it. */
  _dictionary(handle, column) {
    const id = this._backend.dictionaryId(handle, column);
    let found = this._dictionaries.get(id);
    if (found === undefined) {
      const [bytes, offsets] = this._backend.dictionary(handle, column);
      found = new Dictionary(id, new Strings(bytes, offsets));
      this._dictionaries.set(id, found);
    }
    return found;
  }
}

class TableReader {
  constructor(ctx, handle, name) {
    this._ctx = ctx;
    this._handle = handle;
    this.name = name;
  }
  rowCount() {
    return this._ctx._backend.rowCount(this._handle);
  }
  /** The named (declared) columns, whole, read in batches of `ctx.loadBatchRows` rows. */
  load(columns) {
    const backend = this._ctx._backend;
    const total = this.rowCount();
    const parts = new Map(columns.map((c) => [c, []]));
    let start = 0;
    for (;;) {
      const batch = backend.read(this._handle, columns, start, this._ctx.loadBatchRows);
      if (batch.len === 0) break;
      for (const column of batch.columns) parts.get(column.name).push([batch.len, column]);
      start = batch.start + batch.len;
      if (start >= total) break;
    }
    if (start === 0) {
      // An empty table: one zero-row read gives the columns their types.
      for (const column of backend.read(this._handle, columns, 0, 0).columns) parts.get(column.name).push([0, column]);
    }
    const loaded = new Map();
    for (const [name, pieces] of parts) {
      const column = this._join(name, pieces, start);
      column.source = [backend, this._handle];
      loaded.set(name, column);
    }
    return new Frame(this.name, start, loaded);
  }
  _join(name, pieces, rows) {
    if (pieces.length === 0) throw new BadData(`${this.name}.${name}: the host sent no values`);
    const kind = pieces[0][1].kind;
    if (pieces.some(([, p]) => p.kind !== kind)) throw new BadData(`${this.name}.${name}: batches disagree on the column's type`);
    const validity = joinValidity(pieces, rows);
    if (kind === "text") return new TextColumn(name, validity, { strings: Strings.join(pieces.map(([, p]) => p.payload)) });
    const payloads = pieces.map(([, p]) => p.payload);
    const values = concat(payloads, payloads[0].constructor);
    if (kind === "dictionary") {
      return new TextColumn(name, validity, { codes: values, dictionary: this._ctx._dictionary(this._handle, name) });
    }
    return Column.of(name, kind, values, validity);
  }
}

function joinValidity(pieces, rows) {
  if (pieces.every(([, p]) => p.validity === null)) return null;
  if (pieces.length === 1) return pieces[0][1].validity;
  // Batches of LOAD_BATCH_ROWS rows start on byte boundaries, but a last short batch may not fill
  // its final byte: rebuild bit by bit.
  const out = new Uint8Array((rows + 7) >> 3);
  let at = 0;
  for (const [length, p] of pieces) {
    for (let i = 0; i < length; i++) {
      if (p.validity === null || (p.validity[i >> 3] >> (i & 7)) & 1) out[(at + i) >> 3] |= 1 << ((at + i) & 7);
    }
    at += length;
  }
  return out;
}

/** A model's exception as [kind, message]: a ModelError keeps its kind, anything else is `failed`. */
export function modelError(e) {
  if (e instanceof ModelError) return [e.kind, e.message];
  if (e instanceof Error) return ["failed", `${e.name}: ${e.message}`];
  return ["failed", String(e)];
}

// How `exportModel` serves a model: locally it hands the class to the runner; a component build
// sets the exporter that serves the `sieve:model` export (sdk/js/guest.js).
let exporter = (modelClass) => ({ modelClass });

/** What the app exports as `model`: `export const model = exportModel(MyModel);`. */
export function exportModel(modelClass) {
  return exporter(modelClass);
}

/** For the component build's glue only. */
export function __setExporter(f) {
  exporter = f;
}
