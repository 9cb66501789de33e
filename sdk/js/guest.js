// The component side of the JavaScript SDK: the host backend over `sieve:model/host` and the
// exporter that serves an SDK model as the `model` export. `sieve build` bundles this file, the SDK
// and the app into the one module componentize-js takes (see sdk/js/bundle.mjs); it is never
// loaded outside a component build.
import { openTable, emitColumns, log, progress } from "sieve:model/host@0.1.3";
import { Context, RawColumn, Strings, BadData, modelError, __setExporter } from "./sieve-sdk.js";

// `raw-layout` as componentize-js names it: the column kind, and the typed array its bytes are.
const RAW_LAYOUTS = {
  text: ["text", null],
  dictionary: ["dictionary", Uint32Array],
  int64: ["int64", BigInt64Array],
  float64: ["float64", Float64Array],
  boolean: ["boolean", Uint8Array],
  date: ["date", Int32Array],
  timestamp: ["timestamp", BigInt64Array],
};

/** Little-endian `bytes` viewed as a `Type` array: in place when aligned, copied once otherwise. */
function view(bytes, Type) {
  const width = Type.BYTES_PER_ELEMENT;
  const n = Math.floor(bytes.byteLength / width);
  if (bytes.byteOffset % width === 0) return new Type(bytes.buffer, bytes.byteOffset, n);
  return new Type(bytes.slice().buffer, 0, n);
}

/** An `access-error` from the host as the model error the run ends with. */
function accessError(e) {
  const payload = e && e.payload !== undefined ? e.payload : e;
  if (payload && payload.tag) return new BadData(`${payload.tag}: ${payload.val}`);
  return e;
}

function hostCall(f) {
  try {
    return f();
  } catch (e) {
    throw accessError(e);
  }
}

class HostBackend {
  constructor() {
    this._tables = [];
  }
  openTable(name) {
    this._tables.push(hostCall(() => openTable(name)));
    return this._tables.length - 1;
  }
  rowCount(handle) {
    return Number(this._tables[handle].rowCount());
  }
  read(handle, columns, start, maxRows) {
    const batch = hostCall(() => this._tables[handle].readRaw(columns, BigInt(start), maxRows));
    const out = batch.columns.map((c) => {
      const [kind, Type] = RAW_LAYOUTS[c.layout];
      const payload = Type === null ? new Strings(c.values, view(c.offsets, Uint32Array)) : view(c.values, Type);
      return new RawColumn(c.name, kind, payload, c.validity ?? null);
    });
    return { start: Number(batch.start), len: batch.len, columns: out };
  }
  dictionary(handle, column) {
    const text = hostCall(() => this._tables[handle].dictionaryRaw(column));
    return [text.bytes, view(text.offsets, Uint32Array)];
  }
  dictionaryId(handle, column) {
    return hostCall(() => this._tables[handle].dictionaryId(column));
  }
  group(handle, column, minRows) {
    const g = hostCall(() => this._tables[handle].group(column, minRows));
    return [view(g.rows, Uint32Array), view(g.starts, Uint32Array), view(g.groupOfCode, Uint32Array)];
  }
  matches(handle, column, texts) {
    return hostCall(() => this._tables[handle].matches(column, texts));
  }
  /** The clues as columns (`emit-columns`): nine byte lists per batch. componentize-js's glue
   * lowering a record and four strings per clue cost more than everything else emitting did. */
  emit(clues) {
    const n = clues.length;
    const encoder = new TextEncoder();
    const text = (pick) => {
      const parts = clues.map((c) => encoder.encode(pick(c)));
      const offsets = new Uint32Array(n + 1);
      for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + parts[i].length;
      const bytes = new Uint8Array(offsets[n]);
      for (let i = 0; i < n; i++) bytes.set(parts[i], offsets[i]);
      return [bytes, new Uint8Array(offsets.buffer)];
    };
    const [subjects, subjectOffsets] = text((c) => c.subject);
    const [rules, ruleOffsets] = text((c) => c.rule);
    const [reasons, reasonOffsets] = text((c) => c.reason);
    const scores = new Float64Array(n);
    const evidenceOffsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) {
      scores[i] = clues[i].score;
      evidenceOffsets[i + 1] = evidenceOffsets[i] + clues[i].evidenceRows.length;
    }
    const tables = [];
    const tableIndex = new Map();
    const pairs = new Uint32Array(2 * evidenceOffsets[n]);
    let k = 0;
    for (const c of clues) {
      for (const e of c.evidenceRows) {
        let t = tableIndex.get(e.table);
        if (t === undefined) {
          t = tables.length;
          tables.push(e.table);
          tableIndex.set(e.table, t);
        }
        pairs[k++] = t;
        pairs[k++] = e.row;
      }
    }
    emitColumns(tables, {
      subjects,
      subjectOffsets,
      rules,
      ruleOffsets,
      reasons,
      reasonOffsets,
      scores: new Uint8Array(scores.buffer),
      evidence: new Uint8Array(pairs.buffer),
      evidenceOffsets: new Uint8Array(evidenceOffsets.buffer),
    });
  }
  log(level, message) {
    log(level, message);
  }
  progress(done, total) {
    progress(BigInt(done), BigInt(total));
  }
}

function paramValue(type, value) {
  switch (type) {
    case "int":
      return { tag: "int", val: BigInt(value) };
    case "float":
      return { tag: "float", val: Number(value) };
    case "boolean":
      return { tag: "boolean", val: Boolean(value) };
    default:
      return { tag: "text", val: String(value) };
  }
}

function serve(modelClass) {
  return {
    describe() {
      const info = modelClass.describe();
      return {
        name: info.name,
        version: info.version,
        summary: info.summaryText,
        task: info.taskId,
        subjectKind: info.subjectKind,
        inputs: info.inputs.map((t) => ({ name: t.name, columns: t.columns.map((c) => ({ name: c.name, type: c.type })) })),
        params: info.params.map((p) => ({
          name: p.name,
          type: p.type,
          default: paramValue(p.type, p.default),
          description: p.description,
        })),
      };
    },
    run(params) {
      // Integers arrive as BigInt; a model reads them as Numbers, as it declared them.
      const values = {};
      for (const p of params) values[p.name] = p.value.tag === "int" ? Number(p.value.val) : p.value.val;
      const ctx = new Context(new HostBackend(), values);
      try {
        modelClass.run(ctx);
        ctx.flush();
      } catch (e) {
        const [kind, message] = modelError(e);
        if (kind === "failed" && e instanceof Error && e.stack) console.error(`${e.name}: ${e.message}\n${e.stack}`);
        throw { tag: kind, val: message };
      }
    },
  };
}

__setExporter(serve);
