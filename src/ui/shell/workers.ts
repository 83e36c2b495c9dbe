// The tab's workers, one of each, created on first use and shared by every page.
import { createEngineClient, type EngineClient } from '../../workers/engine-client.ts';
import { createSourcesClient, type SourcesClient } from '../../workers/sources-client.ts';
import { createTrainClient, type TrainClient } from '../../workers/train-client.ts';

let engineClient: EngineClient | undefined;
let sourcesClient: SourcesClient | undefined;
let trainClient: TrainClient | undefined;

/** The engine worker: models, the memory planner, completions for the bridge. */
export function engine(): EngineClient {
  engineClient ??= createEngineClient();
  return engineClient;
}

/** The sources worker: clones, archives, files and the stage-1 filter. */
export function sources(): SourcesClient {
  sourcesClient ??= createSourcesClient();
  return sourcesClient;
}

/** The training worker: its own GPUDevice, runs, the stage-2 loss filter. */
export function train(): TrainClient {
  trainClient ??= createTrainClient();
  return trainClient;
}
