import { DEMO_REPO } from './fixtures/demo-repo.ts';
import qwen05 from './configs/Qwen2.5-Coder-0.5B.json';
import qwen15 from './configs/Qwen2.5-Coder-1.5B.json';
import qwen3b from './configs/Qwen2.5-Coder-3B.json';
import deepseek13 from './configs/deepseek-coder-1.3b-base.json';
import qwen05i from './configs/Qwen2.5-Coder-0.5B-Instruct.json';
import qwen05iTok from './configs/Qwen2.5-Coder-0.5B-Instruct.tokenizer_config.json';
import qwen15i from './configs/Qwen2.5-Coder-1.5B-Instruct.json';
import qwen15iTok from './configs/Qwen2.5-Coder-1.5B-Instruct.tokenizer_config.json';
import deepseek13i from './configs/deepseek-coder-1.3b-instruct.json';
import deepseek13iTok from './configs/deepseek-coder-1.3b-instruct.tokenizer_config.json';

// Base models Homecoder supports out of the box, as data. Sizes are the bf16 safetensors
// on the Hugging Face hub; any other repo id is checked against the supported
// architectures (config.json) before its weights are downloaded.
export interface CatalogEntry {
  repo: string;
  name: string;
  architecture: 'LlamaForCausalLM' | 'Qwen2ForCausalLM' | 'MistralForCausalLM';
  params: number;
  downloadBytes: number;
  contextLength: number;
  fim: 'qwen' | 'deepseek' | 'starcoder' | 'codellama' | 'none';
  licence: string;
  note?: string;
  /** Served by the bridge itself (the demo model), not by a hub. */
  local?: boolean;
  /** The repo's config.json, kept here so memory can be planned before any download. */
  config?: object;
  /** Instruct (chat) models: the repo's tokenizer_config.json, with its chat template and stop token. */
  tokenizerConfig?: object;
  /** Tuned to follow instructions in chat turns (has a chat template); base models complete code. */
  instruct?: boolean;
}

const qwen05Base: CatalogEntry = {
  repo: 'Qwen/Qwen2.5-Coder-0.5B',
  name: 'Qwen2.5-Coder 0.5B (base)',
  architecture: 'Qwen2ForCausalLM',
  params: 494e6,
  downloadBytes: 988e6,
  contextLength: 32768,
  fim: 'qwen',
  licence: 'Apache-2.0',
  note: 'Fits almost any GPU; the quickest to fine-tune.',
  config: qwen05,
};

const qwen15Base: CatalogEntry = {
  repo: 'Qwen/Qwen2.5-Coder-1.5B',
  name: 'Qwen2.5-Coder 1.5B (base)',
  architecture: 'Qwen2ForCausalLM',
  params: 1.54e9,
  downloadBytes: 3.09e9,
  contextLength: 32768,
  fim: 'qwen',
  licence: 'Apache-2.0',
  note: 'Better completions; more GPU memory to train (see the planner).',
  config: qwen15,
};

const deepseek13Base: CatalogEntry = {
  repo: 'deepseek-ai/deepseek-coder-1.3b-base',
  name: 'DeepSeek-Coder 1.3B (base)',
  architecture: 'LlamaForCausalLM',
  params: 1.35e9,
  downloadBytes: 2.69e9,
  contextLength: 16384,
  fim: 'deepseek',
  licence: 'DeepSeek License (commercial use allowed)',
  config: deepseek13,
};

/** An instruct release of a base model: the base's architecture, size, context and licence. */
function instructOf(base: CatalogEntry, e: Pick<CatalogEntry, 'repo' | 'name' | 'note' | 'config' | 'tokenizerConfig'>): CatalogEntry {
  return { ...base, ...e, instruct: true };
}

export const CATALOG: CatalogEntry[] = [
  {
    repo: DEMO_REPO,
    name: 'Demo model — RANDOM WEIGHTS',
    architecture: 'Qwen2ForCausalLM',
    params: 3.03e6,
    downloadBytes: 6.08e6,
    contextLength: 4096,
    fim: 'qwen',
    licence: 'Apache-2.0 (generated)',
    note: 'Ships with Homecoder, works offline: for trying every step. It knows no code; its completions are noise.',
    local: true,
  },
  qwen05Base,
  qwen15Base,
  deepseek13Base,
  {
    repo: 'Qwen/Qwen2.5-Coder-3B',
    name: 'Qwen2.5-Coder 3B (base)',
    architecture: 'Qwen2ForCausalLM',
    params: 3.09e9,
    downloadBytes: 6.17e9,
    contextLength: 32768,
    fim: 'qwen',
    licence: 'Qwen Research License',
    note: 'Needs a large GPU (see the planner).',
    config: qwen3b,
  },
  instructOf(qwen05Base, {
    repo: 'Qwen/Qwen2.5-Coder-0.5B-Instruct',
    name: 'Qwen2.5-Coder 0.5B Instruct (chat)',
    note: 'Chat and instruction tuning (conversations, prompt/completion pairs); small and quick.',
    config: qwen05i,
    tokenizerConfig: qwen05iTok,
  }),
  instructOf(qwen15Base, {
    repo: 'Qwen/Qwen2.5-Coder-1.5B-Instruct',
    name: 'Qwen2.5-Coder 1.5B Instruct (chat)',
    note: 'Better answers in chat; more GPU memory to train (see the planner).',
    config: qwen15i,
    tokenizerConfig: qwen15iTok,
  }),
  instructOf(deepseek13Base, {
    repo: 'deepseek-ai/deepseek-coder-1.3b-instruct',
    name: 'DeepSeek-Coder 1.3B Instruct (chat)',
    config: deepseek13i,
    tokenizerConfig: deepseek13iTok,
  }),
];
