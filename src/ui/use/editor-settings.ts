// Copy-paste settings for each supported editor plugin, pointing at this bridge.
export interface EditorSetting {
  id: string;
  title: string;
  where: string;
  text: string;
}

export function editorSettings(origin: string, apiKey = ''): EditorSetting[] {
  const base = origin.replace(/\/$/, '');
  const key = apiKey || 'YOUR_KEY_IF_THE_BRIDGE_HAS_ONE';
  return [
    {
      id: 'continue',
      title: 'Continue — VS Code and JetBrains',
      where:
        '~/.continue/config.yaml (tab autocomplete: Continue asks /api/show and uses server-side FIM; chat through /api/chat — pick an adapter with homecoder:<name>)',
      text:
        `models:\n  - name: Homecoder\n    provider: ollama\n    model: homecoder\n    apiBase: ${base}\n` +
        `${apiKey ? `    apiKey: ${key}\n` : ''}    roles:\n      - autocomplete\n` +
        `  - name: Homecoder chat\n    provider: ollama\n    model: homecoder\n    apiBase: ${base}\n` +
        `${apiKey ? `    apiKey: ${key}\n` : ''}    roles:\n      - chat\n      - edit\n`,
    },
    {
      id: 'llm-vscode',
      title: 'llm-vscode (Hugging Face) — VS Code',
      where: 'settings.json',
      text: JSON.stringify(
        {
          'llm.backend': 'ollama',
          'llm.url': base,
          'llm.modelId': 'homecoder',
          'llm.fillInTheMiddle.enabled': true,
          'llm.fillInTheMiddle.prefix': '<|fim_prefix|>',
          'llm.fillInTheMiddle.suffix': '<|fim_suffix|>',
          'llm.fillInTheMiddle.middle': '<|fim_middle|>',
          'llm.requestBody': { options: { num_predict: 60, temperature: 0 } },
        },
        null,
        2,
      ),
    },
    {
      id: 'llama-vim',
      title: 'llama.vim — Vim / Neovim',
      where: '~/.vimrc or init.vim (before the plugin loads)',
      text: `let g:llama_config = {\n    \\ 'endpoint_fim': '${base}/infill',\n    \\ 'api_key': '${apiKey}',\n    \\ }\n`,
    },
    {
      id: 'openai',
      title: 'Any OpenAI-compatible client',
      where: 'base URL and model',
      text:
        `base URL: ${base}/v1\nmodel:    homecoder\napi key:  ${apiKey ? key : 'anything'}\n\n` +
        `curl ${base}/v1/completions -H 'content-type: application/json'${apiKey ? ` -H 'authorization: Bearer ${key}'` : ''} \\\n` +
        `  -d '{"prompt": "def add(a, b):\\n    ", "suffix": "\\n", "max_tokens": 32}'\n` +
        `\n# chat, or a pairs-trained adapter called as a function (model homecoder:<name>, GET /v1/models lists them)\n` +
        `curl ${base}/v1/chat/completions -H 'content-type: application/json'${apiKey ? ` -H 'authorization: Bearer ${key}'` : ''} \\\n` +
        `  -d '{"model": "homecoder", "messages": [{"role": "user", "content": "Write a Python function that reverses a string."}]}'\n`,
    },
    {
      id: 'ollama',
      title: 'Any Ollama client',
      where: 'host and model',
      text:
        `OLLAMA_HOST=${base}\nmodel: homecoder\n\n` +
        `curl ${base}/api/generate -d '{"model": "homecoder", "prompt": "def add(a, b):\\n    ", "suffix": "\\n", "stream": false}'\n`,
    },
  ];
}
