// What served before a reload — the downloaded model that was loaded and the adapters mixed
// onto it — kept in a small JSON file in OPFS, so the engine worker brings it back by itself
// when the tab opens again (restoreServing), and the pages can say that it is loading.
import type { Progress } from '../progress.ts';
import type { ModelService } from './model-service.ts';
import type { InferenceService, ServingChoice } from './inference-service.ts';

export interface RememberedServing {
  /** A downloaded model's id (models loaded from picked files cannot come back by themselves). */
  modelId: string;
  choice: ServingChoice;
}

export interface ServingMemory {
  read(): Promise<RememberedServing | undefined>;
  write(r: RememberedServing | undefined): Promise<void>;
}

/** Where a restore stands, for the pages: "Loading the model you used before the reload…". */
export type RestoreState =
  | { state: 'none' }
  | { state: 'loading'; modelId: string; adapters: string[]; progress?: Progress }
  | { state: 'done'; modelId: string; adapters: string[] }
  | { state: 'failed'; modelId: string; message: string };

const FILE = 'homecoder-serving.json';

/** The remembered choice, or undefined for anything else (a damaged or foreign file: nothing is restored). */
export function parseRemembered(text: string): RememberedServing | undefined {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = r as RememberedServing;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    typeof o.modelId === 'string' &&
    o.modelId.length > 0 &&
    typeof o.choice === 'object' &&
    o.choice !== null &&
    (o.choice.combination === 'cat' || o.choice.combination === 'linear') &&
    Array.isArray(o.choice.adapters) &&
    o.choice.adapters.every((a) => typeof a?.id === 'string' && typeof a.weight === 'number' && Number.isFinite(a.weight));
  return ok
    ? {
        modelId: o.modelId,
        choice: { combination: o.choice.combination, adapters: o.choice.adapters.map((a) => ({ id: a.id, weight: a.weight })) },
      }
    : undefined;
}

export function opfsServingMemory(): ServingMemory {
  const root = () => navigator.storage.getDirectory();
  return {
    async read() {
      try {
        return parseRemembered(await (await (await (await root()).getFileHandle(FILE)).getFile()).text());
      } catch {
        return undefined; // nothing remembered, or a damaged file: start with nothing loaded
      }
    },
    async write(r) {
      const dir = await root();
      if (!r) return void (await dir.removeEntry(FILE).catch(() => undefined));
      const w = await (await dir.getFileHandle(FILE, { create: true })).createWritable();
      await w.write(JSON.stringify(r));
      await w.close();
    },
  };
}

/**
 * Loads the remembered model and serves the remembered adapters. A failure (the model was
 * deleted, an adapter removed) is reported in the state and forgets nothing else: the user
 * loads another model on the Model page as before.
 */
export async function restoreServing(
  memory: ServingMemory,
  models: ModelService,
  inference: InferenceService,
  onState: (s: RestoreState) => void,
): Promise<void> {
  const r = await memory.read();
  if (!r) return onState({ state: 'none' });
  const adapters = r.choice.adapters.map((a) => a.id);
  onState({ state: 'loading', modelId: r.modelId, adapters });
  try {
    await models.loadCached(r.modelId, new AbortController().signal, (progress) =>
      onState({ state: 'loading', modelId: r.modelId, adapters, progress }),
    );
    inference.changed();
    if (adapters.length) await inference.setServing(r.choice);
    onState({ state: 'done', modelId: r.modelId, adapters });
  } catch (err) {
    onState({ state: 'failed', modelId: r.modelId, message: (err as Error).message });
  }
}
