import { LEAKY_SLOPE } from '../core/activations.js';
import type { Model } from '../core/types.js';

/** One entry of a TF.js `weightsManifest[].weights`. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** A TF.js layers model as one JSON document: `files['model.json']` and base64 `files['weights.bin']`. */
export interface TfjsExport {
  format: 'tfjs-layers-model';
  files: {
    'model.json': {
      format: 'layers-model';
      generatedBy: string;
      convertedBy: null;
      modelTopology: Record<string, unknown>;
      weightsManifest: { paths: ['weights.bin']; weights: TfjsWeightSpec[] }[];
    };
    /** Little-endian float32 weights in manifest order, base64. */
    'weights.bin': string;
  };
  /** How the stored normalization is applied (inputs are raw features). */
  preprocessing: string;
}

const TFJS_ACTIVATION = { relu: 'relu', tanh: 'tanh', sigmoid: 'sigmoid', linear: 'linear', softmax: 'softmax', leaky_relu: 'linear' } as const;

/**
 * A TF.js layers model (`tf.loadLayersModel`) of a trained model: a `Sequential` of `Dense`
 * layers (`leaky_relu` becomes `Dense` + `LeakyReLU` α = 0.01). The z-score feature
 * normalization is folded into the first layer (W'ᵢⱼ = Wᵢⱼ/σᵢ, b'ⱼ = bⱼ − Σᵢ μᵢWᵢⱼ/σᵢ) and
 * normalized regression targets into the last one (linear output) or an extra diagonal
 * `Dense`, so the model takes raw features and returns what `/predict` returns as
 * probabilities or values. TF.js computes in float32.
 */
export function modelToTfjs(model: Model, generatedBy = 'tsnn'): TfjsExport {
  const stats = model.normalization;
  const dense = model.layers.map((l) => ({ units: l.units, activation: l.activation, weights: l.weights.slice(), bias: l.bias.slice() }));
  if (stats) {
    const first = dense[0];
    for (let i = 0; i < model.inputSize; i++) {
      const mu = stats.featureMean[i], sigma = stats.featureStd[i];
      for (let j = 0; j < first.units; j++) {
        const w = first.weights[i * first.units + j] / sigma;
        first.weights[i * first.units + j] = w;
        first.bias[j] -= mu * w;
      }
    }
  }
  let folds = 'the z-score feature normalization is folded into the first Dense layer';
  if (stats?.targetMean && stats.targetStd) {
    const { targetMean: mean, targetStd: std } = stats;
    const last = dense[dense.length - 1];
    if (last.activation === 'linear') {
      for (let j = 0; j < last.units; j++) {
        for (let i = 0; i < last.weights.length / last.units; i++) last.weights[i * last.units + j] *= std[j];
        last.bias[j] = last.bias[j] * std[j] + mean[j];
      }
      folds += ', the target de-normalization into the last';
    } else {
      const n = last.units;
      const diag = new Array<number>(n * n).fill(0);
      for (let j = 0; j < n; j++) diag[j * n + j] = std[j];
      dense.push({ units: n, activation: 'linear', weights: diag, bias: mean.slice() });
      folds += ', the target de-normalization is an extra diagonal Dense layer at the end';
    }
  }

  const layers: Record<string, unknown>[] = [];
  const specs: TfjsWeightSpec[] = [];
  const values: number[][] = [];
  let fanIn = model.inputSize;
  dense.forEach((l, i) => {
    const name = `dense_${i}`;
    layers.push({
      class_name: 'Dense',
      config: {
        name,
        trainable: true,
        dtype: 'float32',
        units: l.units,
        activation: TFJS_ACTIVATION[l.activation],
        use_bias: true,
        kernel_initializer: { class_name: 'Zeros', config: {} },
        bias_initializer: { class_name: 'Zeros', config: {} },
        kernel_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
        ...(i === 0 ? { batch_input_shape: [null, model.inputSize] } : {}),
      },
    });
    specs.push({ name: `${name}/kernel`, shape: [fanIn, l.units], dtype: 'float32' }, { name: `${name}/bias`, shape: [l.units], dtype: 'float32' });
    values.push(l.weights, l.bias);
    if (l.activation === 'leaky_relu') layers.push({ class_name: 'LeakyReLU', config: { name: `${name}_leaky_relu`, trainable: true, dtype: 'float32', alpha: LEAKY_SLOPE } });
    fanIn = l.units;
  });

  const total = values.reduce((n, v) => n + v.length, 0);
  const weights = new Float32Array(total);
  let o = 0;
  for (const v of values) {
    weights.set(v, o);
    o += v.length;
  }
  return {
    format: 'tfjs-layers-model',
    files: {
      'model.json': {
        format: 'layers-model',
        generatedBy,
        convertedBy: null,
        modelTopology: {
          class_name: 'Sequential',
          config: { name: 'tsnn_dense', layers },
          keras_version: 'tfjs-layers 4.22.0',
          backend: 'tensor_flow.js',
        },
        weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
      },
      'weights.bin': Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength).toString('base64'),
    },
    preprocessing: `none: ${folds}; feed raw features`,
  };
}
