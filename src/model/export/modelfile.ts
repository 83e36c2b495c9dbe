// An Ollama Modelfile next to an exported GGUF: FROM the file, the family's prompt
// TEMPLATE (fill-in-the-middle with .Suffix for code completion, as Ollama's own
// qwen2.5-coder template does; plain prompt otherwise), its stop tokens, and greedy-leaning
// sampling parameters suited to completion.
import type { FimFamily } from '../tokenizer.ts';

export interface ModelfileOptions {
  /** The GGUF file's name, relative to the Modelfile. */
  gguf: string;
  /** A GGUF LoRA adapter to apply (relative name), if any. */
  adapter?: string;
  fim?: FimFamily;
  eos?: string;
  contextLength: number;
}

const FIM_TEMPLATES: Record<FimFamily, { template: string; stops: string[] }> = {
  qwen: {
    template: '{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>{{- else }}{{ .Prompt }}{{- end }}',
    stops: ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>'],
  },
  starcoder: {
    template: '{{- if .Suffix }}<fim_prefix>{{ .Prompt }}<fim_suffix>{{ .Suffix }}<fim_middle>{{- else }}{{ .Prompt }}{{- end }}',
    stops: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>'],
  },
  deepseek: {
    template: '{{- if .Suffix }}<｜fim▁begin｜>{{ .Prompt }}<｜fim▁hole｜>{{ .Suffix }}<｜fim▁end｜>{{- else }}{{ .Prompt }}{{- end }}',
    stops: ['<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<|EOT|>'],
  },
  codellama: {
    template: '{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{- else }}{{ .Prompt }}{{- end }}',
    stops: ['<EOT>', '<PRE>', '<SUF>', '<MID>'],
  },
};

export function ollamaModelfile(o: ModelfileOptions): string {
  const fim = o.fim ? FIM_TEMPLATES[o.fim] : undefined;
  const template = fim?.template ?? '{{ .Prompt }}';
  const stops = [...new Set([...(fim?.stops ?? []), ...(o.eos ? [o.eos] : [])])];
  const q = (s: string) => JSON.stringify(s);
  return [
    '# Written by homecoder export. Create the model with: ollama create NAME -f Modelfile',
    `FROM ./${o.gguf}`,
    ...(o.adapter ? [`ADAPTER ./${o.adapter}`] : []),
    `TEMPLATE """${template}"""`,
    ...stops.map((s) => `PARAMETER stop ${q(s)}`),
    'PARAMETER temperature 0.2',
    'PARAMETER top_p 0.95',
    `PARAMETER num_ctx ${Math.min(o.contextLength, 8192)}`,
    '',
  ].join('\n');
}
