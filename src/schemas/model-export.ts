import { z } from 'zod';

export const MODEL_FORMATS = ['json', 'onnx', 'tfjs'] as const;

export const ModelQuerySchema = z.strictObject({
  format: z
    .enum(MODEL_FORMATS)
    .default('json')
    .describe("`json`: the core's tsnn-model JSON; `onnx`: ONNX bytes (opset 13); `tfjs`: a TensorFlow.js layers model (model.json + base64 weights.bin)"),
});

/** `GET /v1/jobs/{id}/model?format=tfjs`: the two files of a TF.js layers model in one JSON document. */
export const TfjsExportSchema = z
  .object({
    format: z.literal('tfjs-layers-model'),
    files: z.object({
      'model.json': z
        .object({
          format: z.literal('layers-model'),
          generatedBy: z.string(),
          convertedBy: z.null(),
          modelTopology: z.record(z.string(), z.unknown()),
          weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.literal('float32') })) })),
        })
        .describe('Save as model.json next to weights.bin, then tf.loadLayersModel("…/model.json")'),
      'weights.bin': z.string().describe('Base64 of the little-endian float32 weights; decode and save as weights.bin'),
    }),
    preprocessing: z.string().describe('How the stored normalization is applied: folded into the layers, so the model takes raw features'),
  })
  .meta({ id: 'TfjsModelExport' });
