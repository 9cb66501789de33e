// Run a JavaScript model in Node on CSV files: the local counterpart of the host, for a model's own
// tests and for trying it on fixtures before building a component.
//
//     node sdk/js/local.mjs app.js DATA_DIR [--param NAME=VALUE ...]
//
// prints the clues as JSON lines. As a library: `run(modelClass, { table: "file.csv" or CSV text },
// params)` gives `{ clues, logs, progress }`. Cells are read as the host reads a CSV import: an
// empty cell is null, dates are `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS[Z]`, booleans
// `true`/`false`; a bad cell is an error naming the file, line and column. Text columns are served
// plain (the host serves key columns dictionary-encoded): a model must give the same clues either
// way. The app's `import ... from "sieve-sdk"` resolves to sdk/js/sieve-sdk.js.

import { readFileSync } from "node:fs";
import { register } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const SDK_URL = new URL("./sieve-sdk.js", import.meta.url).href;
register(
  "data:text/javascript," +
    encodeURIComponent(
      `export async function resolve(specifier, context, next) {
         if (specifier === "sieve-sdk") return { url: ${JSON.stringify(SDK_URL)}, shortCircuit: true };
         return next(specifier, context);
       }`,
    ),
);
const sdk = await import(SDK_URL);
const { Context, RawColumn, Strings, ModelError, checkClue } = sdk;

/** Bad input to a local run: a missing table or column, a bad cell, an unknown parameter. */
export class LocalError extends Error {}

/** RFC 4180 records: quoted fields, doubled quotes, newlines inside quotes. */
function* records(text) {
  let record = [];
  let field = "";
  let quoted = false;
  let i = 0;
  let any = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      any = true;
    } else if (ch === ",") {
      record.push(field);
      field = "";
      any = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      if (any || field !== "") {
        record.push(field);
        yield record;
      }
      record = [];
      field = "";
      any = false;
    } else {
      field += ch;
      any = true;
    }
    i++;
  }
  if (any || field !== "") {
    record.push(field);
    yield record;
  }
}

const EPOCH_DAY = (y, m, d) => Math.floor(Date.UTC(y, m - 1, d) / 86400000);

function parseCell(type, cell) {
  const c = cell.trim();
  switch (type) {
    case "int64":
      if (!/^[+-]?\d+$/.test(c)) throw new Error("expected an integer");
      return BigInt(c);
    case "float64": {
      const x = Number(c);
      if (c === "" || !Number.isFinite(x)) throw new Error("not a finite number");
      return x;
    }
    case "boolean":
      if (c !== "true" && c !== "false") throw new Error("expected true or false");
      return c === "true" ? 1 : 0;
    case "date": {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(c);
      if (!m || new Date(`${c}T00:00:00Z`).toISOString().slice(0, 10) !== c) throw new Error("expected a date YYYY-MM-DD");
      return EPOCH_DAY(Number(m[1]), Number(m[2]), Number(m[3]));
    }
    case "timestamp": {
      const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})Z?$/.exec(c);
      const ms = m ? Date.parse(`${m[1]}T${m[2]}Z`) : NaN;
      if (!Number.isFinite(ms)) throw new Error("expected a timestamp YYYY-MM-DDTHH:MM:SS");
      return BigInt(ms);
    }
    default:
      throw new Error(`unknown type ${type}`);
  }
}

const ARRAYS = { int64: BigInt64Array, float64: Float64Array, boolean: Uint8Array, date: Int32Array, timestamp: BigInt64Array };

/** One CSV table, parsed into the columns the model declared (typed arrays, as the host serves). */
class Table {
  constructor(spec, text, source) {
    const rows = records(text);
    const first = rows.next();
    if (first.done) throw new LocalError(`${source}: empty file (no header)`);
    const where = new Map(first.value.map((h, i) => [h, i]));
    const missing = spec.columns.filter((c) => !where.has(c.name)).map((c) => c.name);
    if (missing.length > 0) throw new LocalError(`${source}: no column ${missing.join(", ")} (declared by the model)`);
    const cells = new Map(spec.columns.map((c) => [c.name, []]));
    const valid = new Map(spec.columns.map((c) => [c.name, []]));
    let line = 1;
    for (const record of rows) {
      line++;
      for (const c of spec.columns) {
        const cell = record[where.get(c.name)] ?? "";
        if (cell === "") {
          cells.get(c.name).push(c.type === "text" ? "" : c.type === "int64" || c.type === "timestamp" ? 0n : 0);
          valid.get(c.name).push(false);
          continue;
        }
        try {
          cells.get(c.name).push(c.type === "text" ? cell : parseCell(c.type, cell));
        } catch (e) {
          throw new LocalError(`${source}: line ${line}, column ${c.name}: ${e.message}`);
        }
        valid.get(c.name).push(true);
      }
    }
    this.spec = spec;
    this.name = spec.name;
    this.rows = line - 1;
    this.cells = cells;
    this.valid = valid;
  }

  validity(column, start, end) {
    const flags = this.valid.get(column).slice(start, end);
    if (flags.every((f) => f)) return null;
    const out = new Uint8Array((flags.length + 7) >> 3);
    flags.forEach((ok, i) => {
      if (ok) out[i >> 3] |= 1 << (i & 7);
    });
    return out;
  }

  payload(column, type, start, end) {
    const values = this.cells.get(column).slice(start, end);
    if (type !== "text") return ARRAYS[type].from(values);
    const encoder = new TextEncoder();
    const encoded = values.map((v) => encoder.encode(v));
    const offsets = new Uint32Array(encoded.length + 1);
    encoded.forEach((b, i) => (offsets[i + 1] = offsets[i] + b.length));
    const bytes = new Uint8Array(offsets[encoded.length]);
    encoded.forEach((b, i) => bytes.set(b, offsets[i]));
    return new Strings(bytes, offsets);
  }
}

class LocalBackend {
  constructor(tables, out) {
    this._tables = tables;
    this._open = [];
    this._out = out;
    this.invalid = null;
  }
  openTable(name) {
    const table = this._tables.get(name);
    if (table === undefined) throw new LocalError(`table ${JSON.stringify(name)} was not declared by the model or not given`);
    this._open.push(table);
    return this._open.length - 1;
  }
  rowCount(handle) {
    return this._open[handle].rows;
  }
  read(handle, columns, start, maxRows) {
    const table = this._open[handle];
    const from = Math.min(start, table.rows);
    const end = Math.min(from + maxRows, table.rows);
    const out = columns.map((name) => {
      const spec = table.spec.find(name);
      if (spec === undefined) throw new LocalError(`${table.name}.${name} was not declared by the model`);
      return new RawColumn(name, spec.type, table.payload(name, spec.type, from, end), table.validity(name, from, end));
    });
    return { start: from, len: end - from, columns: out };
  }
  dictionary(_handle, column) {
    throw new LocalError(`${column} is not dictionary-encoded in a local run`);
  }
  dictionaryId(_handle, column) {
    throw new LocalError(`${column} is not dictionary-encoded in a local run`);
  }
  /** null: `ops.Index` groups in JavaScript (the host groups in the component). */
  group() {
    return null;
  }
  /** null: `TextColumn.matches` compares here (the host does in the component). */
  matches() {
    return null;
  }
  emit(clues) {
    const counts = Object.fromEntries([...this._tables].map(([name, t]) => [name, t.rows]));
    for (const clue of clues) if (this.invalid === null) this.invalid = checkClue(clue, counts);
    this._out.clues.push(...clues);
  }
  log(level, message) {
    this._out.logs.push([level, message]);
  }
  progress(done, total) {
    this._out.progress = [done, total];
  }
}

/** Every declared parameter: its default unless `given` sets it; text values are parsed. */
export function resolveParams(info, given) {
  const declared = new Map(info.params.map((p) => [p.name, p]));
  const unknown = Object.keys(given).filter((n) => !declared.has(n));
  if (unknown.length > 0) {
    throw new LocalError(`unknown parameter ${unknown.join(", ")} (declared: ${[...declared.keys()].join(", ") || "none"})`);
  }
  const out = {};
  for (const [name, p] of declared) {
    let value = name in given ? given[name] : p.default;
    if (typeof value === "string" && p.type !== "text") {
      const parsed = p.type === "boolean" ? { true: true, false: false }[value] : Number(value);
      if (parsed === undefined || (p.type !== "boolean" && (value.trim() === "" || !Number.isFinite(parsed)))) {
        throw new LocalError(`parameter ${name}: expected ${p.type}, got ${JSON.stringify(value)}`);
      }
      if (p.type === "int" && !Number.isInteger(parsed)) throw new LocalError(`parameter ${name}: expected int, got ${JSON.stringify(value)}`);
      value = parsed;
    }
    out[name] = value;
  }
  return out;
}

/** Run `modelClass` on CSV `tables` (name -> file path, or CSV text when it contains a newline).
 * `options.batchRows` sets the rows per read (the host's batches can be as small as one row). */
export function run(modelClass, tables, params = {}, options = {}) {
  const info = modelClass.describe();
  const loaded = new Map();
  for (const spec of info.inputs) {
    const source = tables[spec.name];
    if (source === undefined) throw new LocalError(`no CSV given for declared table ${JSON.stringify(spec.name)}`);
    const [text, where] = source.includes("\n") ? [source, `${spec.name} (text)`] : [readFileSync(source, "utf8"), source];
    loaded.set(spec.name, new Table(spec, text, where));
  }
  const out = { clues: [], logs: [], progress: null };
  const backend = new LocalBackend(loaded, out);
  const ctx = new Context(backend, resolveParams(info, params));
  if (options.batchRows !== undefined) ctx.loadBatchRows = options.batchRows;
  modelClass.run(ctx);
  ctx.flush();
  if (backend.invalid !== null) throw new ModelError(`invalid clue: ${backend.invalid}`);
  return out;
}

/** A clue as one JSON line, fields as the host writes them. */
export function clueJson(clue) {
  return JSON.stringify({
    evidence: clue.evidenceRows.map((e) => ({ row: e.row, table: e.table })),
    reason: clue.reason,
    rule: clue.rule,
    score: clue.score,
    subject: clue.subject,
  });
}

async function main(argv) {
  const params = {};
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--param") {
      const [name, ...value] = (argv[++i] ?? "").split("=");
      params[name] = value.join("=");
    } else if (argv[i] === "--help" || argv[i] === "-h") {
      console.log("usage: node sdk/js/local.mjs app.js DATA_DIR [--param NAME=VALUE ...]\n\nRuns the model in app.js on DATA_DIR/<table>.csv and prints its clues as JSON lines.");
      return 0;
    } else positional.push(argv[i]);
  }
  if (positional.length !== 2) {
    console.error("usage: node sdk/js/local.mjs app.js DATA_DIR [--param NAME=VALUE ...]");
    return 2;
  }
  const [app, data] = positional;
  const module = await import(pathToFileURL(resolve(app)).href);
  const modelClass = module.model && module.model.modelClass;
  if (!modelClass) {
    console.error(`error: ${app} must end with \`export const model = exportModel(MyModel);\``);
    return 2;
  }
  const info = modelClass.describe();
  const tables = Object.fromEntries(info.inputs.map((t) => [t.name, join(data, `${t.name}.csv`)]));
  try {
    for (const clue of run(modelClass, tables, params).clues) console.log(clueJson(clue));
  } catch (e) {
    if (e instanceof LocalError || e instanceof ModelError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
