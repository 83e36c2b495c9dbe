// The Chat panel without a bridge (the static site, or a paired bridge that is not running):
// the engine worker answers the conversation itself, with the same model names and checks as
// the bridge's /v1/chat/completions, streaming each decoded piece through the job's progress.
import { engine } from '../shell/workers.ts';
import { CompletionError } from '../../serve/errors.ts';
import { adapterForModel, modelNames } from '../../serve/model-names.ts';
import { DEFAULT_REQUEST } from '../../serve/types.ts';
import type { ChatTurn } from './chat-client.ts';

/** The model names the tab serves: the default, then each stored adapter by name. */
export async function tabModels(): Promise<string[]> {
  return modelNames((await engine().serving())?.named ?? []);
}

/** As streamChat: resolves with the finish reason ('cancelled' after `signal` aborts: what came so far stays). */
export async function chatInTab(
  model: string,
  messages: ChatTurn[],
  opts: { signal: AbortSignal; onText: (delta: string) => void; maxTokens: number },
): Promise<string> {
  const serving = await engine().serving();
  if (!serving) throw new CompletionError('NO_MODEL', 'No model is loaded: load one on the Model page.');
  if (serving.chat === false)
    throw new CompletionError(
      'NO_CHAT_TEMPLATE',
      'The model serving now has no chat template: load an instruct model (e.g. Qwen2.5-Coder-Instruct) for chat.',
    );
  const adapter = adapterForModel(model, serving.named ?? []);
  let shown = '';
  try {
    const r = await engine().complete(
      { ...DEFAULT_REQUEST, messages, ...(adapter === undefined ? {} : { adapter }), maxTokens: opts.maxTokens },
      {
        signal: opts.signal,
        onProgress: (p) => {
          if (!p.detail) return;
          shown += p.detail;
          opts.onText(p.detail);
        },
      },
    );
    // Reports can trail the result (they travel apart): the rest of the text comes from it.
    if (r.text.startsWith(shown) && r.text.length > shown.length) opts.onText(r.text.slice(shown.length));
    return r.finishReason;
  } catch (e) {
    if (opts.signal.aborted) return 'cancelled';
    throw e;
  }
}
