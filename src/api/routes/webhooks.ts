import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { problemResponses } from '../../schemas/common.js';
import {
  DeliveryListSchema,
  DeliveryParamsSchema,
  DeliverySchema,
  WebhookCreatedSchema,
  WebhookCreateSchema,
  WebhookListSchema,
  WebhookParamsSchema,
  WebhookSchema,
  WebhookSecretSchema,
} from '../../schemas/webhook.js';
import { defaultEndpointId, publicWebhook } from '../../storage/webhook-store.js';
import { checkWebhookTarget, WebhookTargetError } from '../../webhooks/target.js';
import { HttpProblem, invalidField, notFound } from '../problem.js';

/** A 400 naming `path` when the URL may not be called (bad syntax, or a non-public address without WEBHOOK_ALLOW_PRIVATE). */
export async function checkWebhookUrl(config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE'>, path: string, url: string): Promise<void> {
  try {
    await checkWebhookTarget(url, config.WEBHOOK_ALLOW_PRIVATE);
  } catch (err) {
    if (err instanceof WebhookTargetError) throw invalidField(path, `${url} ${err.message}`);
    throw err;
  }
}

/** `/v1/webhooks…`: endpoints with their own secrets, the default secret of job-spec webhooks, deliveries. */
export const webhookRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;

  /** The endpoint id behind a path id (`default` → the tenant's job-spec pseudo-endpoint); 404 when not the tenant's. */
  async function endpointOf(id: string, tenant: string): Promise<string> {
    if (id === 'default') return defaultEndpointId(tenant);
    if (!(await svc.webhooks.get(id, tenant))) throw notFound('webhook', id);
    return id;
  }

  app.post(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Register an endpoint; its `whsec_…` signing secret is in this response only',
        body: WebhookCreateSchema,
        response: { 201: WebhookCreatedSchema, ...problemResponses(400, 409) },
        'x-response-descriptions': {
          201: 'Registered (Location: /v1/webhooks/{id}); keep `secret`, it is not shown again',
          400: 'Invalid URL, or one that resolves to a loopback/private/link-local address (errors[].path = url)',
          409: 'The tenant already has MAX_WEBHOOKS_PER_TENANT endpoints',
        },
      },
    },
    async (req, reply) => {
      await checkWebhookUrl(svc.config, 'url', req.body.url);
      if ((await svc.webhooks.count(req.tenant)) >= svc.config.MAX_WEBHOOKS_PER_TENANT)
        throw new HttpProblem(409, 'too_many_webhooks', `at most ${svc.config.MAX_WEBHOOKS_PER_TENANT} webhook endpoints per tenant (MAX_WEBHOOKS_PER_TENANT); delete one first`);
      const w = await svc.webhooks.create(req.tenant, req.body);
      req.log.info({ webhookId: w.id }, 'webhook registered');
      return reply.code(201).header('location', `/v1/webhooks/${w.id}`).send({ ...publicWebhook(w), secret: w.secret });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: "The tenant's endpoints, newest first (at most MAX_WEBHOOKS_PER_TENANT)",
        response: { 200: WebhookListSchema },
        'x-response-descriptions': { 200: 'Every registered endpoint (without secrets)' },
      },
    },
    async (req) => ({ items: (await svc.webhooks.list(req.tenant)).map(publicWebhook) }),
  );

  app.get(
    '/v1/webhooks/default/secret',
    {
      schema: {
        operationId: 'getWebhookSigningSecret',
        tags: ['webhooks'],
        summary: 'The secret that signs the webhooks of job specs (`webhook` in POST /v1/jobs); created on first use',
        response: { 200: WebhookSecretSchema },
        'x-response-descriptions': { 200: 'The tenant\'s default `whsec_…` secret' },
      },
    },
    async (req) => ({ secret: await svc.webhooks.defaultSecret(req.tenant) }),
  );

  app.get(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'getWebhook',
        tags: ['webhooks'],
        summary: 'One endpoint (without its secret)',
        params: WebhookParamsSchema,
        response: { 200: WebhookSchema, ...problemResponses(404) },
        'x-response-descriptions': { 200: 'The endpoint; `disabled` once its receiver answered 410', 404: 'No endpoint with this id' },
      },
    },
    async (req) => {
      const w = await svc.webhooks.get(req.params.id, req.tenant);
      if (!w) throw notFound('webhook', req.params.id);
      return publicWebhook(w);
    },
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete an endpoint and its delivery records (queued retries to it are dropped)',
        params: WebhookParamsSchema,
        response: { 204: z.null().describe('Deleted'), ...problemResponses(404) },
        'x-response-descriptions': { 204: 'Deleted', 404: 'No endpoint with this id' },
      },
    },
    async (req, reply) => {
      if (!(await svc.webhooks.delete(req.params.id, req.tenant))) throw notFound('webhook', req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: 'Recent deliveries of an endpoint (`default`: of job-spec webhooks), newest first: attempts, status codes, next retry',
        params: WebhookParamsSchema,
        response: { 200: DeliveryListSchema, ...problemResponses(404) },
        'x-response-descriptions': { 200: 'At most 100 deliveries (kept 7 days, 500 per endpoint)', 404: 'No endpoint with this id' },
      },
    },
    async (req) => ({ items: await svc.webhooks.listDeliveries(await endpointOf(req.params.id, req.tenant)) }),
  );

  app.post(
    '/v1/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      schema: {
        operationId: 'redeliverWebhook',
        tags: ['webhooks'],
        summary: 'Send a delivery again (same webhook-id and body, a new attempt series)',
        params: DeliveryParamsSchema,
        response: { 202: DeliverySchema, ...problemResponses(404, 409) },
        'x-response-descriptions': { 202: 'Queued; the delivery is pending again', 404: 'No such endpoint or delivery', 409: 'The endpoint is disabled (its receiver answered 410); register it again' },
      },
    },
    async (req, reply) => {
      const endpointId = await endpointOf(req.params.id, req.tenant);
      const w = req.params.id === 'default' ? null : await svc.webhooks.get(endpointId, req.tenant);
      if (w?.disabled) throw new HttpProblem(409, 'webhook_disabled', `webhook '${w.id}' is disabled (${w.disabledReason}); register the endpoint again`);
      const d = await svc.webhooks.getDelivery(endpointId, req.params.deliveryId);
      if (!d) throw notFound('delivery', req.params.deliveryId);
      const pending = { ...d, status: 'pending' as const, nextAttemptAt: new Date().toISOString() };
      await svc.webhooks.saveDelivery(pending);
      await svc.webhookQueue.deliver(endpointId, d.id, `${d.id}.r${Date.now().toString(36)}`);
      return reply.code(202).send(pending);
    },
  );
};
