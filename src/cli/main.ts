/**
 * `trainer`: a command-line client of the trainer HTTP API. See docs/cli.md.
 * Exit codes: 0 ok, 1 HTTP or connection error, 2 usage error, 3 job failed, 4 job cancelled.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { deleteDataset, getDataset, listDatasets, uploadDataset } from './commands/datasets.js';
import { cancelJob, getJob, listJobs, train, watch } from './commands/jobs.js';
import { downloadModel, evaluate, predict } from './commands/predict.js';
import { cancelSweep, createSweep, getSweep, listSweeps, sweepTrials, watchSweep } from './commands/sweeps.js';
import { createWebhook, deleteWebhook, listCheckpoints, listDeliveries, listWebhooks, redeliver, webhookSecret } from './commands/webhooks.js';
import { ApiClient, ConnectionError, HttpError } from './http-client.js';
import { printJson, type GlobalOptions, type Io } from './output.js';
import { StreamLostError } from './sse-client.js';
import { SPEC_FLAG_OPTIONS, UsageError } from './spec-flags.js';
import { OPTIMIZER_FIELDS } from '../core/optimizers/registry.js';
import { OPTIMIZERS } from '../core/types.js';

/** One usage line per optimizer: its parameter flags, from its field table. */
function optimizerFlagLines(): string {
  const kebab = (n: string) => n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return OPTIMIZERS.map((t) => {
    const flags = Object.entries(OPTIMIZER_FIELDS[t]).filter(([n]) => n !== 'learningRate').map(([n, f]) => `--${kebab(n)}${f.kind === 'enum' ? ` ${f.values.join('|')}` : ''}`);
    return `        ${t}: ${flags.join(' ')}`;
  }).join('\n');
}

export const USAGE = `Usage: trainer <command> [options]

Commands
  datasets upload <file.csv> [--target <col>] [--name <name>]   upload a CSV, streamed with a byte progress bar and rate
                                                                   (target: default last column; .jsonl, .gz too)
  datasets list | get <id> | delete <id>
  train --dataset <id> [--spec spec.json] [flags] [--detach]     submit a job and follow it with a progress bar
      --layers 16:relu,2:softmax --init he_normal --loss softmax_cross_entropy
      --optimizer ${OPTIMIZERS.join('|')} (default adam) --lr <α>
${optimizerFlagLines()}
      --schedule constant|inverse_time|inverse_sqrt|exponential|step --decay-rate --gamma --step-size --k
      --clip global_norm:1|norm:1|value:0.5 --epochs <n> (default 50) --batch-size <n> (default 32)
      --validation-split 0.2 --seed 1 --no-normalize --normalize-targets --patience 5 --min-delta 0
      --no-restore-best --gradient-check
      --dtype float32|float64 --idempotency-key <key>
      --from-checkpoint <job>[:<epoch>] (continue from a kept checkpoint) --webhook <url> (job events, signed)
  jobs list [--status <s>] [--limit <n>] [--after <cursor>]
  jobs get <id> | watch <id> | cancel <id>
  jobs checkpoints <id>                                            kept epoch-end checkpoints (continue: train --from-checkpoint)
  predict <job> <file.csv> [--target <col>] [-o predictions.json]
  evaluate <job> <dataset>                                         metrics on a stored labelled dataset, confusion matrix
  model <job> [-o model.json] [--format json|onnx|tfjs]          (also: jobs model <id> …) onnx: bytes; tfjs: -o is a directory
  sweep create <sweep.json> [--dataset <id>] [--dry-run] [--detach] [--idempotency-key <key>]
                                                                   a sweep (body of POST /v1/sweeps), then watch it
  sweep watch <id>                                                 live trials table until the sweep ends (exit 4: cancelled)
  sweep list [--status <s>] [--limit <n>] [--after <cursor>] | get <id> | trials <id> [--csv] | cancel <id>
  webhooks create <url> [--events completed,failed,cancelled,pruned] [--description <text>]
  webhooks list | get <id> | delete <id> | secret
  webhooks deliveries <id|default> | redeliver <id|default> <delivery-id>

Global options
  --url <url>        API base URL (env TRAINER_URL, default http://127.0.0.1:3000)
  --api-key <key>    sent as Authorization: Bearer (env TRAINER_API_KEY)
  --json             machine-readable output on stdout
  -h, --help

Exit codes: 0 ok, 1 HTTP/connection error, 2 usage error, 3 job failed, 4 job cancelled.
`;

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

function parse(args: string[], options: Options) {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The options each command accepts besides the global ones. */
const COMMAND_OPTIONS: Record<string, Options> = {
  'datasets upload': { target: { type: 'string' }, name: { type: 'string' } },
  'datasets list': {},
  'datasets get': {},
  'datasets delete': {},
  train: {
    ...SPEC_FLAG_OPTIONS, dataset: { type: 'string' }, detach: { type: 'boolean' }, 'idempotency-key': { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
    webhook: { type: 'string' }, 'from-checkpoint': { type: 'string' },
  },
  'jobs list': { status: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' } },
  'jobs get': {},
  'jobs watch': { quiet: { type: 'boolean', short: 'q' } },
  'jobs cancel': {},
  predict: { target: { type: 'string' }, output: { type: 'string', short: 'o' } },
  evaluate: {},
  model: { output: { type: 'string', short: 'o' }, format: { type: 'string' } },
  'jobs model': { output: { type: 'string', short: 'o' }, format: { type: 'string' } },
  'jobs checkpoints': {},
  'sweep create': { dataset: { type: 'string' }, 'dry-run': { type: 'boolean' }, detach: { type: 'boolean' }, 'idempotency-key': { type: 'string' } },
  'sweep watch': {},
  'sweep get': {},
  'sweep list': { status: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' } },
  'sweep trials': { csv: { type: 'boolean' } },
  'sweep cancel': {},
  'webhooks create': { events: { type: 'string' }, description: { type: 'string' } },
  'webhooks list': {},
  'webhooks get': {},
  'webhooks delete': {},
  'webhooks secret': {},
  'webhooks deliveries': {},
  'webhooks redeliver': {},
};

/** Commands with subcommands. */
const GROUPS = new Set(['datasets', 'jobs', 'webhooks', 'sweep']);

/** Global options that take a value: their value must not be mistaken for the command. */
const VALUED_GLOBALS = new Set(['--url', '--api-key']);

/**
 * Find the command words (`train`, or `jobs list`) anywhere in argv, skipping global options
 * and their values, so `trainer --url U jobs list` and `trainer jobs list --url U` both work.
 * Returns argv without the command words.
 */
export function locateCommand(argv: string[]): { first?: string; sub?: string; rest: string[] } {
  const words: number[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (VALUED_GLOBALS.has(a)) i++;
    else if (!a.startsWith('-')) {
      if (words.length === 1 && !GROUPS.has(argv[words[0]])) break;
      words.push(i);
    } else if (words.length === 0 || !a.startsWith('--') || a === '--json' || a === '--help' || a.includes('=')) continue;
    else break; // a command option before the subcommand: its value must not be taken for one
  }
  const first = words[0] === undefined ? undefined : argv[words[0]];
  const sub = words[1] === undefined ? undefined : argv[words[1]];
  return { first, sub, rest: argv.filter((_, i) => !words.includes(i)) };
}

const guarded = new WeakSet<NodeJS.WriteStream>();

/**
 * `trainer model J | head -c 100`: when the reader goes away, writes fail with EPIPE; stop
 * quietly like other Unix tools (exit 0, no stack) instead of dying on an unhandled 'error'.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Run one command line; resolves to the process exit code. Never throws. */
export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr }, env = process.env): Promise<number> {
  if (io.out === process.stdout) exitQuietlyOnEpipe(process.stdout);
  if (io.err === process.stderr) exitQuietlyOnEpipe(process.stderr);
  try {
    const { first, sub, rest: args } = locateCommand(argv);
    const group = GROUPS.has(first ?? '');
    const name = group ? `${first} ${sub ?? ''}`.trim() : first ?? '';
    const opts = COMMAND_OPTIONS[name];
    if (!opts) {
      if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
        io.out.write(USAGE);
        return 0;
      }
      throw new UsageError(first ? `unknown command "${name}"` : 'no command given');
    }
    const { values, positionals: pos } = parse(args, opts);
    const v = values as Record<string, string | boolean | undefined>;
    if (v.help) {
      io.out.write(USAGE);
      return 0;
    }
    const g: GlobalOptions = {
      url: (v.url as string | undefined) ?? env.TRAINER_URL ?? 'http://127.0.0.1:3000',
      apiKey: (v['api-key'] as string | undefined) ?? env.TRAINER_API_KEY ?? undefined,
      json: Boolean(v.json),
    };
    const api = new ApiClient({ url: g.url, apiKey: g.apiKey });
    const need = (n: number, what: string) => {
      if (pos.length !== n) throw new UsageError(`${name} expects ${what}`);
    };
    const s = (k: string) => v[k] as string | undefined;
    switch (name) {
      case 'datasets upload':
        need(1, '<file.csv>');
        return await uploadDataset(api, io, g, pos[0], s('target'), s('name'));
      case 'datasets list':
        need(0, 'no arguments');
        return await listDatasets(api, io, g);
      case 'datasets get':
        need(1, '<id>');
        return await getDataset(api, io, g, pos[0]);
      case 'datasets delete':
        need(1, '<id>');
        return await deleteDataset(api, io, g, pos[0]);
      case 'train':
        need(0, 'flags only (--dataset <id> --spec <file> ...)');
        return await train(api, io, g, s('dataset'), v as never);
      case 'jobs list':
        need(0, 'no arguments');
        return await listJobs(api, io, g, { status: s('status'), limit: s('limit'), after: s('after') });
      case 'jobs get':
        need(1, '<id>');
        return await getJob(api, io, g, pos[0]);
      case 'jobs watch':
        need(1, '<id>');
        return await watch(api, io, g, pos[0], { quiet: Boolean(v.quiet) });
      case 'jobs cancel':
        need(1, '<id>');
        return await cancelJob(api, io, g, pos[0]);
      case 'predict':
        need(2, '<job-id> <file.csv>');
        return await predict(api, io, g, pos[0], pos[1], { target: s('target'), output: s('output') });
      case 'evaluate':
        need(2, '<job-id> <dataset-id>');
        return await evaluate(api, io, g, pos[0], pos[1]);
      case 'model':
      case 'jobs model':
        need(1, '<job-id>');
        return await downloadModel(api, io, g, pos[0], s('output'), s('format'));
      case 'jobs checkpoints':
        need(1, '<job-id>');
        return await listCheckpoints(api, io, g, pos[0]);
      case 'sweep create':
        need(1, '<sweep.json>');
        return await createSweep(api, io, g, pos[0], { dataset: s('dataset'), dryRun: Boolean(v['dry-run']), detach: Boolean(v.detach), idempotencyKey: s('idempotency-key') });
      case 'sweep watch':
        need(1, '<id>');
        return await watchSweep(api, io, g, pos[0]);
      case 'sweep get':
        need(1, '<id>');
        return await getSweep(api, io, g, pos[0]);
      case 'sweep list':
        need(0, 'no arguments');
        return await listSweeps(api, io, g, { status: s('status'), limit: s('limit'), after: s('after') });
      case 'sweep trials':
        need(1, '<id>');
        return await sweepTrials(api, io, g, pos[0], Boolean(v.csv));
      case 'sweep cancel':
        need(1, '<id>');
        return await cancelSweep(api, io, g, pos[0]);
      case 'webhooks create':
        need(1, '<url>');
        return await createWebhook(api, io, g, pos[0], s('events'), s('description'));
      case 'webhooks list':
        need(0, 'no arguments');
        return await listWebhooks(api, io, g);
      case 'webhooks get':
        need(1, '<id>');
        printJson(io, await api.get(`/v1/webhooks/${encodeURIComponent(pos[0])}`));
        return 0;
      case 'webhooks delete':
        need(1, '<id>');
        return await deleteWebhook(api, io, g, pos[0]);
      case 'webhooks secret':
        need(0, 'no arguments');
        return await webhookSecret(api, io, g);
      case 'webhooks deliveries':
        need(1, '<id|default>');
        return await listDeliveries(api, io, g, pos[0]);
      case 'webhooks redeliver':
        need(2, '<id|default> <delivery-id>');
        return await redeliver(api, io, g, pos[0], pos[1]);
    }
    return 2;
  } catch (e) {
    return reportError(io, e, argv.includes('--json'));
  }
}

/** Print an error (problem detail for HTTP errors) on stderr and pick the exit code. */
function reportError(io: Io, e: unknown, json: boolean): number {
  if (e instanceof UsageError) {
    io.err.write(`trainer: ${e.message}\nRun "trainer --help" for usage.\n`);
    return 2;
  }
  if (e instanceof HttpError) {
    if (json) io.out.write(JSON.stringify({ error: { status: e.status, problem: e.problem ?? e.body } }, null, 2) + '\n');
    io.err.write(`trainer: ${e.method} ${e.url} failed: ${e.message}\n`);
    return 1;
  }
  if (e instanceof ConnectionError || e instanceof StreamLostError) {
    io.err.write(`trainer: ${e.message}\n`);
    return 1;
  }
  io.err.write(`trainer: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}
