// Where the Use page finds LoRA adapters to serve: browser storage (OPFS) under
// `adapters/`. Any folder below it (at any depth up to 4) that holds adapter_config.json
// and adapter_model.safetensors (PEFT's format) is an adapter; its id is its path, e.g.
// `runs/<run-id>/checkpoints/step-NNNNNN` written by training, or `imported/<name>` for an
// adapter imported from files. An optional `homecoder-adapter.json` beside them says what
// it is ({label, run, step, testLoss, best, baseModel, createdAt}); without it the folder
// name is the label. Training writes checkpoints there; nothing else needs to be told.
import { blobFiles, type ModelFiles } from './files.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../peft.ts';
import { ModelError } from '../errors.ts';

export const ADAPTERS_DIR = 'adapters';
export const ADAPTER_META = 'homecoder-adapter.json';

export interface AdapterMeta {
  label?: string;
  /** The training run it came from, and the optimizer step of this checkpoint. */
  run?: string;
  step?: number;
  testLoss?: number;
  /** The run's best checkpoint by test loss. */
  best?: boolean;
  baseModel?: string;
  createdAt?: string;
}

export interface StoredAdapter {
  id: string;
  label: string;
  r: number;
  alpha: number;
  targets: string[];
  baseModel: string;
  bytes: number;
  meta: AdapterMeta;
}

/** The contract the Use page relies on; OPFS in the app, anything else in tests or tools. */
export interface AdapterSource {
  list(): Promise<StoredAdapter[]>;
  files(id: string): Promise<ModelFiles>;
  /** Copies PEFT files (adapter_config.json, adapter_model.safetensors, optional meta) into `imported/<name>`. */
  import(name: string, files: Map<string, Blob>): Promise<StoredAdapter>;
  remove(id: string): Promise<void>;
}

type Dir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

async function readText(dir: FileSystemDirectoryHandle, name: string): Promise<string | undefined> {
  try {
    return await (await (await dir.getFileHandle(name)).getFile()).text();
  } catch {
    return undefined;
  }
}

async function describe(id: string, dir: FileSystemDirectoryHandle): Promise<StoredAdapter | undefined> {
  const cfgText = await readText(dir, ADAPTER_CONFIG);
  if (cfgText === undefined) return undefined;
  let weights: File;
  try {
    weights = await (await dir.getFileHandle(ADAPTER_WEIGHTS)).getFile();
  } catch {
    return undefined;
  }
  let cfg: { r?: number; lora_alpha?: number; target_modules?: string[] | string; base_model_name_or_path?: string };
  let meta: AdapterMeta = {};
  try {
    cfg = JSON.parse(cfgText) as typeof cfg;
    const m = await readText(dir, ADAPTER_META);
    if (m) meta = JSON.parse(m) as AdapterMeta;
  } catch {
    return undefined; // a half-written folder: not listed until it is whole
  }
  const targets = Array.isArray(cfg.target_modules) ? cfg.target_modules : cfg.target_modules ? [cfg.target_modules] : [];
  return {
    id,
    label: meta.label ?? id.split('/').pop()!,
    r: cfg.r ?? 0,
    alpha: cfg.lora_alpha ?? cfg.r ?? 0,
    targets,
    baseModel: meta.baseModel ?? cfg.base_model_name_or_path ?? '',
    bytes: weights.size,
    meta,
  };
}

async function walk(dir: Dir, prefix: string, depth: number, out: StoredAdapter[]): Promise<void> {
  const a = prefix ? await describe(prefix, dir) : undefined;
  if (a) {
    out.push(a);
    return;
  }
  if (depth === 0) return;
  for await (const [name, h] of dir.entries())
    if (h.kind === 'directory') await walk(h as Dir, prefix ? `${prefix}/${name}` : name, depth - 1, out);
}

async function subdir(root: FileSystemDirectoryHandle, id: string, create: boolean): Promise<FileSystemDirectoryHandle> {
  let d = root;
  for (const part of id.split('/')) {
    if (!part || part === '.' || part === '..') throw new ModelError('BAD_ADAPTER', `"${id}" is not an adapter id.`);
    d = await d.getDirectoryHandle(part, { create });
  }
  return d;
}

export function safeAdapterName(name: string): string {
  return (
    name
      .replace(/[^\w.-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 64) || 'adapter'
  );
}

export async function opfsAdapterSource(): Promise<AdapterSource> {
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(ADAPTERS_DIR, { create: true });
  return {
    async list() {
      const out: StoredAdapter[] = [];
      await walk(root as Dir, '', 4, out);
      return out.sort((a, b) => a.id.localeCompare(b.id));
    },
    async files(id) {
      const dir = await subdir(root, id, false).catch(() => {
        throw new ModelError('MISSING_FILE', `There is no adapter "${id}" in browser storage any more.`);
      });
      const names = [ADAPTER_CONFIG, ADAPTER_WEIGHTS];
      const map = new Map<string, Blob>();
      for (const n of names) {
        try {
          map.set(n, await (await dir.getFileHandle(n)).getFile());
        } catch {
          /* reported by the reader as a missing file */
        }
      }
      return blobFiles(`the adapter ${id}`, map);
    },
    async import(name, files) {
      for (const n of [ADAPTER_CONFIG, ADAPTER_WEIGHTS])
        if (!files.has(n))
          throw new ModelError(
            'MISSING_FILE',
            `Pick both ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} (a PEFT adapter folder); ${n} is missing.`,
            { file: n },
          );
      const id = `imported/${safeAdapterName(name)}`;
      const dir = await subdir(root, id, true);
      // Weights first and the config last: a folder is listed only once its config is there.
      for (const n of [ADAPTER_WEIGHTS, ADAPTER_META, ADAPTER_CONFIG]) {
        const blob = files.get(n);
        if (!blob) continue;
        const w = await (await dir.getFileHandle(n, { create: true })).createWritable();
        await w.write(blob);
        await w.close();
      }
      const a = await describe(id, dir);
      if (!a) throw new ModelError('BAD_ADAPTER', `The imported files in ${id} are not a readable PEFT adapter.`);
      return a;
    },
    async remove(id) {
      const parts = id.split('/');
      const parent = parts.length > 1 ? await subdir(root, parts.slice(0, -1).join('/'), false) : root;
      await parent.removeEntry(parts[parts.length - 1], { recursive: true });
    },
  };
}
