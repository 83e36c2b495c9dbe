// Runs GGUFs through a real llama.cpp (node-llama-cpp's prebuilt CPU binary) for the export
// tests. A script of its own because node-llama-cpp's binary self-test forks the running
// script (it fails inside vitest workers and under `node -e`).
// Input: a JSON file (argv[2]) holding an array of
//   { model, lora?, prompt: number[], steps?, force?: number[], text? }
// Output (JSON on stdout), one per request: { greedy?, tokens?, logProbs? }
//   greedy:   `steps` greedy tokens after the prompt
//   logProbs: with `force`, log-probabilities over the vocabulary after the prompt and after
//             each forced token but the last (teacher forcing)
//   tokens:   llama.cpp's tokenization of `text` (no BOS, no special-token parsing)
import { readFileSync } from 'node:fs';
import { getLlama } from 'node-llama-cpp';

const requests = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const results = [];
for (const req of requests) {
  const model = await llama.loadModel({ modelPath: req.model });
  const out = {};
  if (req.text !== undefined) out.tokens = Array.from(model.tokenize(req.text, false, 'trimLeadingSpace'));
  const context = await model.createContext({
    contextSize: 256,
    threads: 1, // many threads spin-wait on a shared, busy machine (minutes instead of seconds)
    batchSize: 256,
    ...(req.lora ? { lora: { adapters: [{ filePath: req.lora, scale: 1 }] } } : {}),
  });
  const seq = context.getSequence();
  const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  // Probabilities of the next token after `input` (temperature 0 would make them one-hot).
  const next = async (input) => {
    const items = input.map((t, i) =>
      i === input.length - 1
        ? [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: vocab, topP: 1, minP: 0 } } }]
        : t,
    );
    const res = await seq.controlledEvaluate(items);
    const lp = new Array(vocab).fill(-1e30);
    for (const [tok, p] of res[input.length - 1].next.probabilities) lp[tok] = Math.log(p);
    return lp;
  };
  if (req.steps) {
    out.greedy = [];
    let input = req.prompt;
    for (let s = 0; s < req.steps; s++) {
      const lp = await next(input);
      const best = lp.indexOf(Math.max(...lp));
      out.greedy.push(best);
      input = [best];
    }
  } else if (req.force) {
    await seq.clearHistory();
    out.logProbs = [];
    let input = req.prompt;
    for (const t of req.force) {
      out.logProbs.push(await next(input));
      input = [t];
    }
  }
  results.push(out);
  await context.dispose();
  await model.dispose();
}
process.stdout.write(JSON.stringify(results));
await llama.dispose();
