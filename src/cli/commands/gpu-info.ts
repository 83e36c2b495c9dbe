// `homecoder gpu-info`: which adapter Dawn gives this machine, its features and limits.
import { parseArgs } from 'node:util';
import { nodeGpuDevice } from '../dawn.ts';
import { GpuError } from '../../gpu/errors.ts';

export const gpuInfoHelp = `Usage: homecoder gpu-info [--json]

Prints the WebGPU adapter this machine gives Node (through Dawn), the optional
features the engine enables (shader-f16, subgroups) and the limits it got.

  --json   print JSON: {vendor, architecture, device, description, software, features, limits}
`;

export async function gpuInfoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(gpuInfoHelp);
    return 0;
  }
  let ctx: Awaited<ReturnType<typeof nodeGpuDevice>>;
  try {
    ctx = await nodeGpuDevice();
  } catch (err) {
    if (err instanceof GpuError) {
      if (values.json) console.log(JSON.stringify({ error: { code: err.code, message: err.message } }));
      else console.error(err.message);
      return 1;
    }
    throw err;
  }
  const { info, device } = ctx;
  if (values.json) {
    console.log(JSON.stringify(info, null, 2));
  } else {
    console.log(
      `adapter:   ${[info.vendor, info.architecture, info.device].filter(Boolean).join(' / ')}${info.software ? ' (software)' : ''}`,
    );
    if (info.description) console.log(`driver:    ${info.description}`);
    console.log(`features:  ${info.features.join(', ')}`);
    for (const [k, v] of Object.entries(info.limits)) console.log(`${k.padEnd(36)} ${v}`);
  }
  device.destroy();
  return 0;
}
