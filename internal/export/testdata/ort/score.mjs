// Scores rows with an ONNX model in a real ONNX runtime: onnxruntime-web
// (WebAssembly, CPU), as pinned in package-lock.json next to this file.
//
//   node score.mjs MODEL.onnx ROWS.json
//
// ROWS.json is {"rows": [[x, ...], ...]}, one array per row of raw feature
// values, null for a missing cell (sent to the model as NaN). Prints one JSON
// object: {"runtime": VERSION, "input": NAME, "output": NAME,
// "probabilities": [[p, ...], ...]}. Numbers are printed as JavaScript
// prints a double, which reads back to the same double.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-web';

const [modelPath, rowsPath] = process.argv.slice(2);
if (!modelPath || !rowsPath) {
  console.error('usage: node score.mjs MODEL.onnx ROWS.json');
  process.exit(2);
}
ort.env.wasm.numThreads = 1; // no worker threads: deterministic, and fits a test machine

const { rows } = JSON.parse(await readFile(rowsPath, 'utf8'));
const cols = rows.length ? rows[0].length : 0;
const x = new Float64Array(rows.length * cols);
rows.forEach((row, i) => {
  if (row.length !== cols) throw new Error(`row ${i}: ${row.length} values, want ${cols}`);
  row.forEach((v, j) => { x[i * cols + j] = v === null ? NaN : v; });
});

const model = new Uint8Array(await readFile(modelPath));
const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
const input = session.inputNames[0];
const output = session.outputNames[0];
const result = await session.run({ [input]: new ort.Tensor('float64', x, [rows.length, cols]) });
const p = result[output];
if (p.type !== 'float64') throw new Error(`output ${output} is ${p.type}, want float64`);
const k = p.dims[1];
const probabilities = [];
for (let i = 0; i < p.dims[0]; i++) probabilities.push(Array.from(p.data.subarray(i * k, (i + 1) * k)));

const runtime = ort.env.versions.web;
process.stdout.write(JSON.stringify({ runtime, input, output, probabilities }) + '\n');
