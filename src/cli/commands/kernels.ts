// `homecoder kernels`: the kernel versions this GPU adapter can run, and the choices
// `homecoder tune` stored for it.
import { parseArgs } from 'node:util';
import { nodeGpuDevice } from '../dawn.ts';
import { KernelSelection, KERNEL_FAMILIES } from '../../gpu/kernel-versions.ts';
import { adapterKey } from '../../gpu/tune-store.ts';
import { ALL_VERSIONS } from '../kernels-option.ts';
import { fileTuneStore } from '../tune-cache.ts';

export const kernelsHelp = `Usage: homecoder kernels [--cache FILE] [--json]

Lists every version of the engine's hot kernels, whether this GPU adapter can run it
(the features it needs: shader-f16, subgroups), the families --kernels accepts here, and
the choices "homecoder tune" stored for this adapter.

  --cache FILE   the tuner's store (default $XDG_CACHE_HOME/homecoder/kernels.json)
  --json         print {"adapter", "features", "families", "versions": [{op, name, family,
                 features, available, workgroup_bytes, summary}], "tuned"}
`;

export async function kernelsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { cache: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(kernelsHelp);
    return 0;
  }
  const { device, info } = await nodeGpuDevice();
  try {
    const sel = KernelSelection.forDevice(device);
    const versions = ALL_VERSIONS.map((v) => ({
      op: v.op,
      name: v.name,
      family: v.family,
      features: v.features,
      available: sel.available(v),
      workgroup_bytes: v.workgroupBytes,
      summary: v.summary,
    }));
    const families = KERNEL_FAMILIES.filter((f) => versions.filter((v) => v.family === f).every((v) => v.available));
    const store = fileTuneStore(values.cache);
    const tuned = (await store.load(adapterKey(info))) ?? {};
    if (values.json) {
      console.log(
        JSON.stringify({ adapter: adapterKey(info), software: info.software, features: info.features, families, versions, tuned }),
      );
    } else {
      console.log(`adapter: ${adapterKey(info)}`);
      for (const v of versions)
        console.log(
          `${v.available ? '  ' : '✗ '}${v.name.padEnd(22)} ${v.family.padEnd(10)} ${v.summary}${v.available ? '' : ` (needs ${v.features.join(', ')})`}`,
        );
      console.log(`--kernels here: ${families.join(', ')}`);
      const n = Object.keys(tuned).length;
      console.log(n ? `${n} tuned choices in ${store.path}` : 'not tuned on this adapter yet: run homecoder tune --model DIR');
    }
    return 0;
  } finally {
    device.destroy();
  }
}
