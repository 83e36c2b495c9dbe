// `homecoder <command>`: the engine and pipeline without a browser (Node + Dawn).
import { datasetCommand, datasetHelp } from './commands/dataset.ts';
import { exportCommand, exportHelp } from './commands/export.ts';
import { filterCommand, filterHelp } from './commands/filter.ts';
import { gpuInfoCommand, gpuInfoHelp } from './commands/gpu-info.ts';
import { lossCommand, lossHelp } from './commands/loss.ts';
import { makeTinyModelCommand, makeTinyModelHelp } from './commands/make-tiny-model.ts';
import { planCommand, planHelp } from './commands/plan.ts';
import { trainStepsCommand, trainStepsHelp } from './commands/train-steps.ts';
import { serveCommand, serveHelp } from './commands/serve.ts';
import { trainCommand, trainHelp } from './commands/train.ts';
import { HomecoderError } from '../errors.ts';
import { urlCommand, urlHelp } from './commands/url.ts';
import { bridgeCommand, bridgeHelp } from './commands/bridge.ts';
import { kernelsCommand, kernelsHelp } from './commands/kernels.ts';
import { tuneCommand, tuneHelp } from './commands/tune.ts';

interface Command {
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  dataset: {
    summary: 'what `train` trains on with the same flags, as JSON lines {source, kind, ids, text, loss_mask}',
    help: datasetHelp,
    run: datasetCommand,
  },
  export: {
    summary: 'the model (with adapters merged) as a Hugging Face folder or GGUF, or adapters as a GGUF LoRA',
    help: exportHelp,
    run: exportCommand,
  },
  filter: {
    summary: 'stage-1 filter over folders, files, archives or git URLs: a decision per file (--json)',
    help: filterHelp,
    run: filterCommand,
  },
  'gpu-info': { summary: 'print the WebGPU adapter, features and limits (--json)', help: gpuInfoHelp, run: gpuInfoCommand },
  'make-tiny-model': {
    summary: 'write a random fixture model in the Hugging Face layout',
    help: makeTinyModelHelp,
    run: makeTinyModelCommand,
  },
  loss: { summary: "a model's loss on a text or token ids (--json)", help: lossHelp, run: lossCommand },
  plan: { summary: 'GPU memory a model needs for training or inference, from config.json (--json)', help: planHelp, run: planCommand },
  serve: { summary: 'serve completions to editors from a model (and PEFT adapters) without a browser', help: serveHelp, run: serveCommand },
  'train-steps': {
    summary: 'train a LoRA adapter on one text for N steps, write it in PEFT format',
    help: trainStepsHelp,
    run: trainStepsCommand,
  },
  train: {
    summary: 'fine-tune on a folder: loss filter, dataset, training, evaluation; writes the best adapter + run.json',
    help: trainHelp,
    run: trainCommand,
  },
  kernels: {
    summary: 'the kernel versions this GPU adapter can run, and the tuned choices (--json)',
    help: kernelsHelp,
    run: kernelsCommand,
  },
  tune: {
    summary: "time every kernel version at a model's shapes on this GPU and store the fastest (--json)",
    help: tuneHelp,
    run: tuneCommand,
  },
  url: { summary: "print the running bridge's app link with its secret (open it in Chrome)", help: urlHelp, run: urlCommand },
  bridge: {
    summary: 'the bridge for the app opened from another address (static site): pairs with it, relays editors, proxies git',
    help: bridgeHelp,
    run: bridgeCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: homecoder <command> [options]
       npm run -s homecoder -- <command> [options]   (inside the repository)

Commands:
${lines.join('\n')}

Run "homecoder <command> --help" for a command's options.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const sub = name === 'help' ? rest[0] : undefined;
    process.stdout.write(sub && COMMANDS[sub] ? COMMANDS[sub].help : usage());
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`Unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    // parseArgs and typed errors carry a message meant for the user (and maybe a hint).
    const message = err instanceof Error ? err.message : String(err);
    const hint = err instanceof HomecoderError && !message.includes(err.hint) ? `\n  ${err.hint}` : '';
    process.stderr.write(`homecoder ${name}: ${message}${hint}\n`);
    return 1;
  }
}
