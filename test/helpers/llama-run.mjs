// Runs a GGUF through a real llama.cpp (node-llama-cpp's prebuilt CPU binary) for the export
// tests. A script of its own because node-llama-cpp's binary self-test forks the running
// script (it fails inside vitest workers and under `node -e`).
// Input (JSON on argv[2]): { model, lora?, prompt: number[], steps, text?, probsAt?: boolean }
// Output (JSON on stdout): { greedy: number[], tokens?: number[], logProbs?: number[][] }
//   greedy:   `steps` greedy tokens after the prompt
//   tokens:   llama.cpp's tokenization of `text` (no BOS, no special-token parsing)
//   logProbs: log-probabilities over the vocabulary after the prompt and after each greedy token
import { getLlama } from 'node-llama-cpp';

const req = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: req.model });
const out = {};
if (req.text !== undefined) out.tokens = Array.from(model.tokenize(req.text, false, 'trimLeadingSpace'));
const context = await model.createContext({
  contextSize: 512,
  batchSize: 512,
  ...(req.lora ? { lora: { adapters: [{ filePath: req.lora, scale: 1 }] } } : {}),
});
const seq = context.getSequence();
const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
const greedy = [];
const logProbs = [];
let input = req.prompt;
for (let s = 0; s < req.steps; s++) {
  const items = input.map((t, i) => (i === input.length - 1 ? [t, { generateNext: { probabilities: true } }] : t));
  const res = await seq.controlledEvaluate(items);
  const probs = res[input.length - 1].next.probabilities;
  let best = -1;
  let bestP = -1;
  const lp = new Array(vocab).fill(Number.NEGATIVE_INFINITY);
  for (const [tok, p] of probs) {
    lp[tok] = Math.log(p);
    if (p > bestP) [best, bestP] = [tok, p];
  }
  if (req.probsAt) logProbs.push(lp);
  greedy.push(best);
  input = [best];
}
out.greedy = greedy;
if (req.probsAt) out.logProbs = logProbs;
process.stdout.write(JSON.stringify(out));
await context.dispose();
await model.dispose();
await llama.dispose();
