// `homecoder tune`: time every kernel version at a model's real shapes on this GPU, keep
// the fastest correct one per shape, and store the choices for this adapter.
import { parseArgs } from 'node:util';
import { loadNodeModel } from '../open-model.ts';
import { modelTuneCases, tuneKernels } from '../../gpu/tuner.ts';
import { KERNEL_OPS, type KernelOp } from '../../gpu/kernel-versions.ts';
import { adapterKey, savePicks } from '../../gpu/tune-store.ts';
import { fileTuneStore } from '../tune-cache.ts';
import { UsageError } from '../../errors.ts';

export const tuneHelp = `Usage: homecoder tune --model DIR [--seq-len N] [--ops LIST] [--reps N] [--cache FILE] [--json]

Times every version of the engine's hot kernels (linear forward, linear input gradient,
decode GEMV, training attention forward + backward) that this GPU adapter can run, at the model's real shapes and on its
weights, checks each against the register-blocked version's output, and stores the
fastest correct one per shape for this adapter. Training, loss and serving then use
the stored choices (unless --kernels forces a family).

  --model DIR     Hugging Face model folder
  --seq-len N     tokens per training sequence to tune at (default 1024)
  --ops LIST      operations, comma-separated (default ${KERNEL_OPS.join(',')})
  --reps N        timed runs per version after a warm-up; the median counts (default 5)
  --cache FILE    where choices are stored (default $XDG_CACHE_HOME/homecoder/kernels.json)
  --json          print {"adapter", "cache", "seq_len", "results": [{op, label, shape, flops,
                  versions: [{name, status, ms, gflops, error, clock}], chosen}]}
`;

function positiveInt(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got "${v}"`, flag);
  return n;
}

export async function tuneCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'seq-len': { type: 'string' },
      ops: { type: 'string' },
      reps: { type: 'string' },
      cache: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(tuneHelp);
    return 0;
  }
  if (!values.model) {
    process.stderr.write(`homecoder tune: give --model DIR.\n\n${tuneHelp}`);
    return 2;
  }
  const seqLen = positiveInt(values['seq-len'], 'seq-len', 1024);
  const reps = positiveInt(values.reps, 'reps', 5);
  const ops = (values.ops?.split(',').map((s) => s.trim()) ?? [...KERNEL_OPS]) as KernelOp[];
  for (const op of ops) if (!KERNEL_OPS.includes(op)) throw new UsageError(`--ops takes ${KERNEL_OPS.join(', ')}, not "${op}"`, 'ops');
  const store = fileTuneStore(values.cache);
  const engine = await loadNodeModel(values.model);
  try {
    const info = engine.gpu.info;
    const results = await tuneKernels(engine.runner, modelTuneCases(engine.model, seqLen, ops), {
      reps,
      // Progress on stderr, so --json output stays one object.
      onProgress: (p) => process.stderr.write(`${p.phase} ${p.done}/${p.total}${p.detail ? ` ${p.detail}` : ''}\n`),
    });
    await savePicks(store, info, engine.runner.kernels);
    const gflops = (flops: number, ms?: number) => (ms ? Number((flops / ms / 1e6).toFixed(3)) : undefined);
    if (values.json) {
      console.log(
        JSON.stringify({
          adapter: adapterKey(info),
          software: info.software,
          cache: store.path,
          seq_len: seqLen,
          results: results.map((r) => ({
            op: r.op,
            label: r.label,
            shape: r.shape,
            flops: r.flops,
            versions: r.versions.map((v) => ({ ...v, gflops: gflops(r.flops, v.ms) })),
            chosen: r.chosen,
          })),
        }),
      );
    } else {
      console.log(`adapter: ${adapterKey(info)}${info.software ? ' (software: its ranking says nothing about a GPU)' : ''}`);
      for (const r of results) {
        const cells = r.versions.map((v) =>
          v.ms === undefined ? `${v.name} ${v.status}` : `${v.name} ${v.ms.toFixed(3)} ms (${gflops(r.flops, v.ms)} GFLOP/s)`,
        );
        console.log(`${r.op} ${r.label} T=${r.shape.T} K=${r.shape.K} N=${r.shape.N}: ${cells.join('; ')} → ${r.chosen}`);
      }
      console.log(`choices stored in ${store.path}`);
    }
    return 0;
  } finally {
    engine.close();
  }
}
