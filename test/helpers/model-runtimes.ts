import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';

/** Runs ONNX bytes in onnxruntime-node (its bundled CPU binding) on raw feature rows. */
export async function runOnnx(bytes: Uint8Array, rows: number[][], dtype: 'float32' | 'float64' = 'float32'): Promise<{ output: number[][]; label?: number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const F = rows[0].length;
  const flat = rows.flat();
  const input = dtype === 'float64' ? new ort.Tensor('float64', Float64Array.from(flat), [rows.length, F]) : new ort.Tensor('float32', Float32Array.from(flat), [rows.length, F]);
  const res = await session.run({ input });
  const w = res.output.dims[1] as number;
  const data = Array.from(res.output.data as Float32Array | Float64Array);
  const output = rows.map((_, r) => data.slice(r * w, (r + 1) * w));
  const label = res.label ? Array.from(res.label.data as BigInt64Array, Number) : undefined;
  await session.release();
  return label ? { output, label } : { output };
}

/** The `format=tfjs` document's shape, as far as loading it needs. */
export interface TfjsFiles {
  files: { 'model.json': { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] }; 'weights.bin': string };
}

/** Loads a `format=tfjs` export the way a user does (model.json + weights.bin) and predicts raw rows on the CPU backend. */
export async function runTfjs(exp: TfjsFiles, rows: number[][]): Promise<number[][]> {
  await tf.setBackend('cpu');
  const json = exp.files['model.json'];
  const bin = Buffer.from(exp.files['weights.bin'], 'base64');
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const m = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
  const out = m.predict(tf.tensor2d(rows)) as tf.Tensor;
  const res = (await out.array()) as number[][];
  out.dispose();
  m.dispose();
  return res;
}

/** Largest element-wise |a − b| of two equally shaped row arrays. */
export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}
