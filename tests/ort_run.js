#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU) for the export
// parity tests (tests/test_onnx.c):
//
//   node tests/ort_run.js MODEL.onnx INDIR OUTDIR
//
// Every graph input NAME is read from INDIR/<encodeURIComponent(NAME)>.npy,
// every graph output is written to OUTDIR/<encodeURIComponent(NAME)>.npy.
// .npy files: format version 1.0 (read: 1.0 and 2.0), little-endian, C
// order, dtypes <f4 <f8 <i4 |b1 (the ones halograph's hg_npy_read/write use).
//
// onnxruntime-node is looked up with require() (NODE_PATH), then in
// <source tree>/build/npm/node_modules (where tools/install-deps puts it).
// Exit status: 0 ok, 1 error, 77 onnxruntime-node not available (the test
// reports itself skipped).
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const tries = ['onnxruntime-node',
                 path.join(__dirname, '..', 'build', 'npm', 'node_modules', 'onnxruntime-node')];
  for (const t of tries) {
    try {
      return require(t);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  return null;
}

const DTYPES = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '|b1': ['bool', Uint8Array, 1],
  '<b1': ['bool', Uint8Array, 1],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) throw new Error(file + ': not a .npy file');
  const major = buf[6];
  let hlen, off;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    off = 10;
  } else if (major === 2 || major === 3) {
    hlen = buf.readUInt32LE(8);
    off = 12;
  } else {
    throw new Error(file + ': unsupported .npy version ' + major);
  }
  const header = buf.subarray(off, off + hlen).toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(file + ': malformed .npy header ' + header);
  if (fortran[1] === 'True') throw new Error(file + ': Fortran order is not supported');
  const dt = DTYPES[descr[1]];
  if (!dt) throw new Error(file + ': unsupported dtype ' + descr[1]);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  if (buf.length < start + n * dt[2]) throw new Error(file + ': truncated data');
  const bytes = buf.subarray(start, start + n * dt[2]);
  const copy = new ArrayBuffer(n * dt[2]); // aligned copy
  new Uint8Array(copy).set(bytes);
  let data = new dt[1](copy);
  if (dt[0] === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
  return { type: dt[0], dims, data };
}

function writeNpy(file, type, dims, data) {
  const descr = { float32: '<f4', float64: '<f8', int32: '<i4', bool: '|b1' }[type];
  if (!descr) throw new Error('output ' + file + ': unsupported type ' + type);
  const shape = dims.length === 0 ? '()' : dims.length === 1 ? '(' + dims[0] + ',)'
                                         : '(' + dims.join(', ') + ')';
  let header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ', }';
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  let body;
  if (type === 'bool') body = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  else body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tmp = file + '.tmp.' + process.pid;
  fs.writeFileSync(tmp, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(tmp, file);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 3) {
    console.error('usage: node ort_run.js MODEL.onnx INDIR OUTDIR');
    return 1;
  }
  const ort = loadOrt();
  if (!ort) {
    console.error('ort_run: onnxruntime-node not found (run tools/install-deps, or set NODE_PATH)');
    return 77;
  }
  const [model, indir, outdir] = args;
  const opts = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all',
                 logSeverityLevel: 3 };
  const sess = await ort.InferenceSession.create(model, opts);
  const feeds = {};
  for (const name of sess.inputNames) {
    const f = path.join(indir, encodeURIComponent(name) + '.npy');
    if (!fs.existsSync(f)) throw new Error('input ' + name + ': ' + f + ' not found');
    const a = readNpy(f);
    const data = a.type === 'bool' ? Uint8Array.from(a.data) : a.data;
    feeds[name] = new ort.Tensor(a.type, data, a.dims);
  }
  const t0 = process.hrtime.bigint();
  const res = await sess.run(feeds);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.mkdirSync(outdir, { recursive: true });
  for (const name of sess.outputNames) {
    const t = res[name];
    let data = t.data;
    if (t.type === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
    writeNpy(path.join(outdir, encodeURIComponent(name) + '.npy'), t.type, t.dims, data);
  }
  console.log('ort_run: ' + path.basename(model) + ': ' + sess.outputNames.length +
              ' outputs in ' + ms.toFixed(1) + ' ms');
  return 0;
}

// Also a module: bench/peers/ort_bench.js reuses the .npy reader/writer.
module.exports = { loadOrt, readNpy, writeNpy };

if (require.main === module) {
  main().then((rc) => process.exit(rc), (e) => {
    console.error('ort_run: ' + (e && e.message ? e.message : e));
    process.exit(1);
  });
}
