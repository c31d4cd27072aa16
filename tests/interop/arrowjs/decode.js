// Decode Arrow IPC files with apache-arrow 0.16.0 the way Plutono 7.5's frontend does
// (packages/plutono-data/src/dataframe/ArrowDataFrame.ts, arrowTableToDataFrame; contract 4.8)
// and print one canonical JSON object per file for the Python tests.
//
// Usage: node decode.js FILE...   or   echo '["a.arrow"]' | node decode.js
// Values: numbers as JSON numbers, NaN/Infinity/-Infinity as strings, null as null.
'use strict';

const fs = require('fs');
const { Table, ArrowType } = require('apache-arrow');

// Same rules as ArrowDataFrame.ts parseOptionalMeta / valueOrUndefined.
function parseOptionalMeta(str) {
  if (str && str.length && str !== '{}') {
    try {
      return JSON.parse(str);
    } catch (err) {
      return { __parseError: String(err) };
    }
  }
  return undefined;
}

function valueOrUndefined(val) {
  return val ? val : undefined;
}

// NumberColumn.get in ArrowDataFrame.ts: nulls and NaN pass through, everything else Number(v).
function asNumber(v) {
  if (v === null || isNaN(v)) {
    return v;
  }
  return Number(v);
}

function canonical(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return '+Inf';
    if (v === -Infinity) return '-Inf';
  }
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function frameOf(table) {
  const fields = [];
  for (let i = 0; i < table.numCols; i++) {
    const col = table.getColumnAt(i);
    if (!col) continue;
    const schema = table.schema.fields[i];
    let type = 'other';
    let get = (index) => col.get(index);
    switch (schema.typeId) {
      case ArrowType.Decimal:
      case ArrowType.FloatingPoint:
        type = 'number';
        break;
      case ArrowType.Int:
        type = 'number';
        get = (index) => asNumber(col.get(index));
        break;
      case ArrowType.Bool:
        type = 'boolean';
        break;
      case ArrowType.Timestamp:
        type = 'time';
        get = (index) => asNumber(col.get(index));
        break;
      case ArrowType.Utf8:
        type = 'string';
        break;
      default:
        type = 'other';
    }
    const values = [];
    for (let row = 0; row < col.length; row++) {
      values.push(canonical(get(row)));
    }
    fields.push({
      name: col.name,
      type,
      typeId: schema.typeId,
      nullable: schema.nullable,
      config: parseOptionalMeta(col.metadata.get('config')) || {},
      labels: parseOptionalMeta(col.metadata.get('labels')) || null,
      values,
    });
  }
  const meta = table.schema.metadata;
  return {
    name: valueOrUndefined(meta.get('name')) || null,
    refId: valueOrUndefined(meta.get('refId')) || null,
    meta: parseOptionalMeta(meta.get('meta')) || null,
    length: table.length,
    fields,
  };
}

function check(path) {
  try {
    const table = Table.from(new Uint8Array(fs.readFileSync(path)));
    return Object.assign({ path, error: null }, frameOf(table));
  } catch (err) {
    return { path, error: String(err && err.message ? err.message : err) };
  }
}

function main() {
  let paths = process.argv.slice(2);
  if (paths.length === 0) {
    paths = JSON.parse(fs.readFileSync(0, 'utf8'));
  }
  process.stdout.write(JSON.stringify(paths.map(check)) + '\n');
}

main();
