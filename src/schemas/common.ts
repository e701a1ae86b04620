import { z } from 'zod';

/** What a schema expects, in words: `an integer ≥ 1`, `one of sgd, adam`, `an object`. */
function expected(inst: unknown): string {
  const def = (inst as { _zod?: { def?: { type?: string; innerType?: unknown } } })?._zod?.def;
  const s = inst as { options?: unknown[] };
  switch (def?.type) {
    case 'number': {
      const j = z.toJSONSchema(inst as z.ZodNumber) as Record<string, number | string | undefined>;
      const big = (v: unknown): v is number => typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER;
      const bounds = [
        big(j.minimum) ? `≥ ${j.minimum}` : big(j.exclusiveMinimum) ? `> ${j.exclusiveMinimum}` : '',
        big(j.maximum) ? `≤ ${j.maximum}` : big(j.exclusiveMaximum) ? `< ${j.exclusiveMaximum}` : '',
      ].filter(Boolean);
      return `${j.type === 'integer' ? 'an integer' : 'a number'}${bounds.length ? ' ' + bounds.join(' and ') : ''}`;
    }
    case 'enum':
      return `one of ${(s.options ?? []).join(', ')}`;
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'an array';
    case 'object':
      return 'an object';
    case 'union':
      return 'an object with a type';
    default:
      return '';
  }
}

// A missing field says "required (what it takes)" instead of "expected number, received undefined".
z.config({
  customError: (iss) => {
    if ((iss.code === 'invalid_type' || iss.code === 'invalid_union' || iss.code === 'invalid_value') && iss.input === undefined) {
      const what = expected(iss.inst);
      return what ? `required (${what})` : 'required';
    }
    // a query parameter coerced to a number that is not one (`?limit=x`)
    if (iss.code === 'invalid_type' && typeof iss.input === 'number' && Number.isNaN(iss.input)) {
      const what = expected(iss.inst);
      return what ? `must be ${what}` : 'must be a number';
    }
    return undefined;
  },
});

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
          in: z.enum(['body', 'query', 'path', 'header']).optional().describe('Where the field is: the JSON body, a query parameter, a path parameter or a header (as OpenAPI names parameter locations)'),
        }),
      )
      .optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

/** `{ id }` path parameter. */
export const IdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

/**
 * Cursor pagination of a list of `kind` ids (the prefix `newId` gives them: `job`, `ds`...): newest
 * first, `after` is the last id of the previous page, and it must be an id of that kind (a dataset
 * id as a job cursor, or garbage, is a 400, not an empty page). Same form as ID_PATTERN in storage/ids.ts.
 */
export function pagination(kind: string) {
  const example = `${kind}_0mwx82tum0001d8ce333`;
  return {
    limit: z.coerce.number().int().min(1).max(100).default(20).describe('Items per page (1-100)'),
    after: z
      .string()
      .regex(new RegExp(`^${kind}_[0-9a-z]{12}[0-9a-f]{8}$`), { error: `not a ${kind} id: pass the \`next\` of the previous page (e.g. ${example})` })
      .optional()
      .describe(`Cursor: the \`next\` of the previous page (a ${kind} id)`),
  };
}

export const problemResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, ProblemSchema])) as Record<number, typeof ProblemSchema>;
