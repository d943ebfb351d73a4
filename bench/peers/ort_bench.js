#!/usr/bin/env node
// The ONNX Runtime peer of bench/run (issue 13), one process per measurement:
//
//   node bench/peers/ort_bench.js MODEL.onnx FEEDDIR OUTDIR [--iters N] [--warmup W]
//                                 [--threads T] [--no-spin]
//
// Session: onnxruntime-node, CPU, graph optimisation level "all", sequential
// execution, intra-op threads T (default 2), inter-op 1; --no-spin turns the
// intra-op pool's spin-waiting off (session config
// session.intra_op.allow_spinning = 0: the fair setting on a loaded machine).
// Every graph input NAME is read from FEEDDIR/<encodeURIComponent(NAME)>.npy;
// the outputs of the first run go to OUTDIR/<name>.npy. Then W warm-up runs
// (default 1) and N timed runs (default 5) of session.run on the same feeds.
// Prints "key value" lines: ort_version, threads, load_ms, step_ms,
// step_median_ms, step_min_ms, step_max_ms, peak_rss_kb
// (process.resourceUsage().maxRSS, the whole process).
// Exit status: 0 ok, 1 error, 77 onnxruntime-node not available.
'use strict';
const fs = require('fs');
const path = require('path');
const { loadOrt, readNpy, writeNpy } = require(path.join(__dirname, '..', '..', 'tests', 'ort_run.js'));

function parseArgs(argv) {
  const o = { iters: 5, warmup: 1, threads: 2, spin: true, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--iters') o.iters = Number(argv[++i]);
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--threads') o.threads = Number(argv[++i]);
    else if (a === '--no-spin') o.spin = false;
    else o.pos.push(a);
  }
  if (o.pos.length !== 3 || !(o.iters >= 0) || !(o.warmup >= 0) || !(o.threads >= 1)) {
    throw new Error('usage: ort_bench.js MODEL.onnx FEEDDIR OUTDIR [--iters N] [--warmup W] [--threads T] [--no-spin]');
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  if (!ort) {
    console.error('ort_bench: onnxruntime-node not found (run tools/install-deps)');
    return 77;
  }
  const [model, feeddir, outdir] = o.pos;
  const opts = { intraOpNumThreads: o.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
                 executionMode: 'sequential', logSeverityLevel: 3 };
  if (!o.spin) opts.extra = { session: { intra_op: { allow_spinning: '0' } } };
  const t0 = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(model, opts);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = {};
  for (const name of sess.inputNames) {
    const f = path.join(feeddir, encodeURIComponent(name) + '.npy');
    if (!fs.existsSync(f)) throw new Error('input ' + name + ': ' + f + ' not found');
    const a = readNpy(f);
    feeds[name] = new ort.Tensor(a.type, a.type === 'bool' ? Uint8Array.from(a.data) : a.data, a.dims);
  }
  const res = await sess.run(feeds);
  fs.mkdirSync(outdir, { recursive: true });
  for (const name of sess.outputNames) {
    const t = res[name];
    writeNpy(path.join(outdir, encodeURIComponent(name) + '.npy'), t.type, t.dims, t.data);
  }
  for (let i = 0; i < o.warmup; i++) await sess.run(feeds);
  const ts = [];
  for (let i = 0; i < o.iters; i++) {
    const a = process.hrtime.bigint();
    await sess.run(feeds);
    ts.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  let ver = 'unknown';
  try {
    ver = require(path.join(path.dirname(require.resolve('onnxruntime-node', { paths: [path.join(__dirname, '..', '..', 'build', 'npm', 'node_modules')] })), '..', 'package.json')).version;
  } catch (e) { /* version is informative only */ }
  console.log('ort_version ' + ver);
  console.log('threads ' + o.threads);
  console.log('load_ms ' + loadMs.toFixed(3));
  if (ts.length) {
    const s = ts.slice().sort((x, y) => x - y);
    const n = s.length;
    const med = n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    console.log('step_ms ' + ts.map((t) => t.toFixed(3)).join(' '));
    console.log('step_median_ms ' + med.toFixed(3));
    console.log('step_min_ms ' + s[0].toFixed(3));
    console.log('step_max_ms ' + s[n - 1].toFixed(3));
  }
  console.log('peak_rss_kb ' + process.resourceUsage().maxRSS);
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error('ort_bench: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
