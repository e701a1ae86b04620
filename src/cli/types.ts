/**
 * The few response fields the CLI reads. The API's zod schemas are the source of truth; the
 * CLI talks to any server over HTTP, so it only names what it prints.
 */
import type { Progress, TrainResult, TrainingSpec } from '../core/types.js';
import type { JobStatus } from '../schemas/job.js';

export type { JobStatus };

export interface DatasetView {
  id: string;
  name?: string;
  rows: number;
  features: number;
  targets: number;
  targetKind: 'integer' | 'real';
  classes?: number;
  bytes?: number;
  createdAt?: string;
}

export interface JobView {
  id: string;
  status: JobStatus;
  datasetId: string;
  spec: TrainingSpec & { datasetId?: string };
  progress?: { epoch?: number; epochs?: number; step?: number; stepsPerEpoch?: number; loss?: number | null; valLoss?: number | null };
  result?: Pick<TrainResult, 'loss' | 'valLoss' | 'accuracy' | 'valAccuracy' | 'epochsRun' | 'stoppedEarly' | 'weightsHash' | 'durationMs' | 'samplesPerSecond'>;
  error?: { code: string; message: string };
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
  attempts?: number;
}

/** The `progress` SSE event: the core's progress fields. */
export type ProgressEvent = Partial<Progress> & { epoch: number; loss: number };
