import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

type TransformArgs = Parameters<typeof jsonSchemaTransform>[0];
type RouteSchema = Record<string, unknown> & { body?: unknown; 'x-extra-body-content'?: Record<string, unknown> };

/**
 * The zod transform, plus routes whose body is a per-content-type map: each zod schema is
 * converted by the same transform (so `$ref`s point at components), and
 * `x-extra-body-content` adds media types parsed by hand (CSV, multipart).
 */
function transform(args: TransformArgs) {
  const schema = args.schema as RouteSchema | undefined;
  const content = (schema?.body as { content?: Record<string, { schema: unknown }> } | undefined)?.content;
  if (!schema || (!content && !schema['x-extra-body-content'])) return jsonSchemaTransform(args);
  const { body: _body, 'x-extra-body-content': extra, ...rest } = schema;
  const out = jsonSchemaTransform({ ...args, schema: rest } as TransformArgs) as { schema: Record<string, unknown>; url: string };
  const media: Record<string, unknown> = {};
  for (const [type, { schema: s }] of Object.entries(content ?? {})) {
    const one = jsonSchemaTransform({ ...args, schema: { body: s } } as TransformArgs) as { schema: { body: unknown } };
    media[type] = { schema: one.schema.body };
  }
  Object.assign(media, extra ?? {});
  return { ...out, schema: { ...out.schema, body: { content: media } } };
}

/** The OpenAPI document of every route, and Swagger UI at `/docs` (`/docs/json`). */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'tsnn trainer service',
        description:
          'Upload datasets, train neural networks on a typed-array core, follow the loss live over SSE, predict. Errors are application/problem+json (RFC 9457).',
        version: '1.0.0',
      },
      tags: [
        { name: 'datasets', description: 'Training data' },
        { name: 'jobs', description: 'Training jobs, their events, metrics, model and predictions' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    transform: transform as never,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
