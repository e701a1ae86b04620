import { LEAKY_SLOPE } from '../core/activations.js';
import type { Model } from '../core/types.js';
import { encodeModel, type NodeProto, OnnxDataType, rawTensorData, type TensorProto, type ValueInfoProto } from './onnx-proto.js';

/** Default-domain opset of the exported graphs (Softmax along the last axis needs ≥ 13). */
export const ONNX_OPSET = 13;
/** IR version 7 is the oldest that opset 13 runtimes accept everywhere (onnx 1.8+). */
const IR_VERSION = 7;

/**
 * The ONNX graph of a trained model: input `input` `[N, inputSize]`; the stored z-score
 * normalization as `Sub`/`Div`; one `Gemm` per dense layer (weights `[fanIn, units]`) followed by
 * its activation (`Relu`, `LeakyRelu` α = 0.01 (float64: `Max(z, 0.01·z)`), `Tanh`, `Sigmoid`, `Softmax` on the last axis;
 * `linear` adds nothing); normalized regression targets mapped back with `Mul`/`Add`. Output
 * `output` `[N, units]`: probabilities (classification, binary) or values (regression);
 * classifiers also have `label` `[N]` (int64, `ArgMax`). Elements are float32, or float64 for a
 * model trained in float64.
 */
export function modelToOnnx(model: Model, producerVersion?: string): Uint8Array {
  const dataType = model.dtype === 'float64' ? OnnxDataType.DOUBLE : OnnxDataType.FLOAT;
  const initializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const constant = (name: string, dims: number[], values: ArrayLike<number>): string => {
    initializers.push({ name, dataType, dims, raw: rawTensorData(values, dataType) });
    return name;
  };
  let x = 'input';
  const op = (opType: string, inputs: string[], output: string, attributes?: NodeProto['attributes']): void => {
    nodes.push({ opType, inputs, outputs: [output], name: output, ...(attributes ? { attributes } : {}) });
    x = output;
  };

  const stats = model.normalization;
  if (stats) {
    op('Sub', [x, constant('feature_mean', [model.inputSize], stats.featureMean)], 'centered');
    op('Div', [x, constant('feature_std', [model.inputSize], stats.featureStd)], 'normalized');
  }
  let fanIn = model.inputSize;
  model.layers.forEach((l, i) => {
    const W = constant(`dense_${i}/kernel`, [fanIn, l.units], l.weights);
    const b = constant(`dense_${i}/bias`, [l.units], l.bias);
    op('Gemm', [x, W, b], `dense_${i}`);
    switch (l.activation) {
      case 'relu': op('Relu', [x], `dense_${i}/relu`); break;
      case 'leaky_relu':
        if (dataType === OnnxDataType.FLOAT) op('LeakyRelu', [x], `dense_${i}/leaky_relu`, { alpha: { float: LEAKY_SLOPE } });
        else {
          // onnxruntime's CPU LeakyRelu is float32 only; max(z, αz) is the same function for α < 1.
          const z = x;
          const slope = initializers.some((t) => t.name === 'leaky_slope') ? 'leaky_slope' : constant('leaky_slope', [], [LEAKY_SLOPE]);
          op('Mul', [z, slope], `dense_${i}/leaky_scaled`);
          op('Max', [z, x], `dense_${i}/leaky_relu`);
        }
        break;
      case 'tanh': op('Tanh', [x], `dense_${i}/tanh`); break;
      case 'sigmoid': op('Sigmoid', [x], `dense_${i}/sigmoid`); break;
      case 'softmax': op('Softmax', [x], `dense_${i}/softmax`, { axis: { int: 1 } }); break;
      case 'linear': break;
    }
    fanIn = l.units;
  });
  if (stats?.targetMean && stats.targetStd) {
    op('Mul', [x, constant('target_std', [fanIn], stats.targetStd)], 'scaled');
    op('Add', [x, constant('target_mean', [fanIn], stats.targetMean)], 'denormalized');
  }
  op('Identity', [x], 'output');
  const outputs: ValueInfoProto[] = [{ name: 'output', elemType: dataType, shape: ['N', fanIn] }];
  if (model.task === 'classification') {
    nodes.push({ opType: 'ArgMax', inputs: ['output'], outputs: ['label'], name: 'label', attributes: { axis: { int: 1 }, keepdims: { int: 0 } } });
    outputs.push({ name: 'label', elemType: OnnxDataType.INT64, shape: ['N'] });
  }
  return encodeModel({
    irVersion: IR_VERSION,
    opset: ONNX_OPSET,
    producerName: 'tsnn',
    ...(producerVersion ? { producerVersion } : {}),
    docString: `${model.task} model, loss ${model.loss}; input: raw (un-normalized) features`,
    metadata: { weightsHash: model.weightsHash, task: model.task, loss: model.loss },
    graph: {
      name: 'tsnn_dense',
      nodes,
      initializers,
      inputs: [{ name: 'input', elemType: dataType, shape: ['N', model.inputSize] }],
      outputs,
    },
  });
}
