import { z } from 'zod';

/** RFC 9457 problem details, with `errors` naming each invalid field. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string().optional(),
    errors: z
      .array(
        z.object({
          path: z.string().describe('Dotted path of the field, e.g. `optimizer.learningRate`'),
          message: z.string(),
          in: z.enum(['body', 'querystring', 'params', 'headers']).optional(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

/** `{ id }` path parameter. */
export const IdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

/** Cursor pagination shared by list routes: newest first, `after` is the last id of the previous page. */
export const paginationShape = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().min(1).max(128).optional(),
};

export const problemResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, ProblemSchema])) as Record<number, typeof ProblemSchema>;
