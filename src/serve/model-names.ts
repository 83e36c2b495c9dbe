// The model names editors see and pick by: `homecoder` is what serves by default (the base,
// or the adapter mix chosen on the Use page or with --adapter); `homecoder:<name>` is one
// named adapter (`homecoder serve --named-adapter`, or an adapter stored in the tab), swapped
// in per request without reloading the base. A name an editor made up for itself (a label in
// its settings) gets the default, as before; an unknown `homecoder:<name>` is an error that
// lists the names.
import { CompletionError } from './errors.ts';

export const DEFAULT_MODEL = 'homecoder';
const PREFIX = `${DEFAULT_MODEL}:`;

/** What an adapter name may be: letters, digits, dot, dash and underscore. */
export const ADAPTER_NAME = /^[A-Za-z0-9][\w.-]{0,79}$/;

/** The model name editors use for a named adapter (or the default). */
export function modelNameOf(adapter?: string): string {
  return adapter === undefined ? DEFAULT_MODEL : `${PREFIX}${adapter}`;
}

/** Every model name served: the default first, then each named adapter. */
export function modelNames(named: readonly string[] = []): string[] {
  return [DEFAULT_MODEL, ...named.map((n) => modelNameOf(n))];
}

/** The named adapter `model` asks for; undefined for the default. */
export function adapterForModel(model: string | undefined, named: readonly string[] = []): string | undefined {
  if (!model || model === DEFAULT_MODEL || model === `${PREFIX}latest`) return undefined;
  const name = model.startsWith(PREFIX) ? model.slice(PREFIX.length) : model;
  if (named.includes(name)) return name;
  if (!model.startsWith(PREFIX)) return undefined; // an editor's own label: the default model
  throw new CompletionError(
    'UNKNOWN_MODEL',
    `No model is called "${model.slice(0, 120)}". Served here: ${modelNames(named).join(', ')} (GET /v1/models or /api/tags lists them).`,
  );
}

/** A stored adapter as the names need it (model/storage/adapter-store.ts StoredAdapter). */
interface Stored {
  id: string;
  label: string;
  meta: { run?: string; step?: number; best?: boolean };
}

const slug = (s: string) =>
  s
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 80);

/**
 * Names for the adapters stored in the tab: a run's best checkpoint `<run>-best`, each
 * checkpoint `<run>-step-<N>`, any other adapter its label. Name → stored id; the first wins a clash.
 */
export function storedAdapterNames(stored: readonly Stored[]): Map<string, string> {
  const out = new Map<string, string>();
  const add = (name: string, id: string) => {
    if (ADAPTER_NAME.test(name) && name !== 'latest' && !out.has(name)) out.set(name, id);
  };
  for (const a of stored) if (a.meta.run !== undefined && a.meta.best) add(`${slug(a.meta.run)}-best`, a.id);
  for (const a of stored) {
    if (a.meta.run !== undefined && a.meta.step !== undefined) add(`${slug(a.meta.run)}-step-${a.meta.step}`, a.id);
    else add(slug(a.label), a.id);
  }
  return out;
}
