// `homecoder loss`: the model's loss on a text (or token ids), through the GPU engine.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { withErrorScopes } from '../../gpu/device.ts';
import { loadNodeModel, parseIds } from '../open-model.ts';
import { Transformer } from '../../gpu/transformer.ts';
import { GpuLora } from '../../gpu/lora.ts';
import { readFloat32 } from '../../gpu/buffers.ts';
import { UsageError } from '../../errors.ts';
import { KERNELS_HELP, KERNELS_OPTION, parseKernelsOption } from '../kernels-option.ts';

export const lossHelp = `Usage: homecoder loss --model DIR (--text FILE | --ids FILE) [--adapter DIR] [--json]

Mean next-token loss (nats) of a text under a model (and optionally a PEFT LoRA adapter):
the mean over positions 1..N-1 of -log p(id[i] | id[<i]).

  --model DIR     Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --text FILE     text to tokenize (BOS is added only where the tokenizer config says so)
  --ids FILE      token ids instead: a JSON array or whitespace-separated numbers
  --adapter DIR   PEFT adapter folder (adapter_config.json + adapter_model.safetensors)
  --json          print {"tokens", "loss", "ids", "per_token"}
${KERNELS_HELP}
`;

export async function lossCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      ids: { type: 'string' },
      adapter: { type: 'string' },
      ...KERNELS_OPTION,
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(lossHelp);
    return 0;
  }
  if (!values.model || !values.text === !values.ids) {
    process.stderr.write(`homecoder loss: give --model and one of --text or --ids.\n\n${lossHelp}`);
    return 2;
  }
  const engine = await loadNodeModel(values.model, { adapterDir: values.adapter, kernels: parseKernelsOption(values.kernels) });
  try {
    const { config } = engine.opened;
    const ids = values.text
      ? engine.tokenizer.encode(await readFile(values.text, 'utf8'))
      : parseIds(await readFile(values.ids!, 'utf8'), config.vocabSize, values.ids!);
    if (ids.length < 2) throw new UsageError('the text needs at least two tokens to have a loss');
    if (ids.length > config.maxPositionEmbeddings)
      throw new UsageError(`the text has ${ids.length} tokens; this model handles at most ${config.maxPositionEmbeddings}`);
    const tf = await withErrorScopes(engine.gpu.device, `allocating activations for ${ids.length} tokens`, () => {
      const adapter = engine.adapter && new GpuLora(engine.memory, engine.adapter.lora, engine.adapter.layers, { trainable: false });
      return new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: ids.length });
    });
    tf.setBatch(ids);
    await engine.runner.run((pass) => tf.recordForward(pass));
    const [loss] = await readFloat32(engine.gpu.device, tf.loss, 1);
    const perToken = Array.from(await readFloat32(engine.gpu.device, tf.tokenLosses, ids.length - 1));
    if (values.json) console.log(JSON.stringify({ tokens: ids.length, loss, ids, per_token: perToken }));
    else console.log(`${ids.length} tokens, loss ${loss.toFixed(4)} nats (perplexity ${Math.exp(loss).toFixed(2)})`);
    return 0;
  } finally {
    engine.close();
  }
}
