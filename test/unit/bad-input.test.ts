// Bad input through the real parts (issue 11): hostile or damaged model folders, sources
// that are devices or FIFOs, absurd settings, damaged runs. Each case writes real files to a
// temporary folder and runs the real `homecoder` process (or the module that reads the
// files), and asserts the typed error, before any GPU work and without reading what it must not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { getRandomValues } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { openModel } from '../../src/model/loader.ts';
import { parseConfig, toHfConfig } from '../../src/model/config.ts';
import { readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors.ts';
import { bytesSource } from '../../src/model/storage/files.ts';
import { ModelError } from '../../src/model/errors.ts';
import { readPeftAdapter, writePeftAdapter, peftTensorName, baseModelWarning } from '../../src/model/peft.ts';
import { loadNodeSource } from '../../src/data/node-sources.ts';
import { SourceError } from '../../src/data/errors.ts';
import { randomAdapter } from '../helpers/tiny.ts';
import { startGitServer } from '../helpers/git-server.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/homecoder.mjs', ...args], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, NO_COLOR: '1' },
  });

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Error);
  return e as Error & { code?: string };
}

let root: string;
let n = 0;
const folder = (files: Map<string, Uint8Array>): string => {
  const dir = join(root, `m${n++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
  return dir;
};
const tiny = () => makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, seed: 5 });
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
let textFile: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hc-bad-input-'));
  textFile = join(root, 'text.py');
  writeFileSync(textFile, 'def add(a, b):\n    return a + b\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('model folders', { timeout: 120_000 }, () => {
  it('a sharded index naming ../../../etc/passwd is refused by name; nothing outside the folder is opened', async () => {
    const m = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, shards: 2 });
    const index = JSON.parse(new TextDecoder().decode(m.files.get('model.safetensors.index.json')!)) as {
      weight_map: Record<string, string>;
    };
    const first = Object.keys(index.weight_map)[0];
    // A real safetensors file beside the model folder, which the index points at.
    const dir = folder(m.files);
    writeFileSync(join(root, 'outside.safetensors'), m.files.get(index.weight_map[first])!);
    for (const evil of ['../../../etc/passwd', '../outside.safetensors', '/etc/passwd']) {
      index.weight_map[first] = evil;
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
      const e = await rejection(openModel(nodeFiles(dir)));
      expect(e).toBeInstanceOf(ModelError);
      expect(e.code).toBe('UNSAFE_PATH');
      expect(e.message).toContain('nothing was opened');
      const r = cli('loss', '--model', dir, '--text', textFile);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('not a .safetensors file in the model folder');
      expect(r.stderr).not.toMatch(/root:|\n\s+at /);
    }
  });

  it('config numbers out of bounds are refused before anything is allocated', () => {
    const base = toHfConfig(tiny().config);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ num_hidden_layers: 1e8 }, /"num_hidden_layers" is 100000000; it must be an integer from 1 to 1024/],
      [{ vocab_size: 2 ** 40 }, /"vocab_size"/],
      [{ hidden_size: 32.5 }, /"hidden_size"/],
      [{ num_key_value_heads: 0 }, /"num_key_value_heads"/],
      [{ max_position_embeddings: 1e12 }, /"max_position_embeddings"/],
      [{ rope_theta: 0 }, /"rope_theta" is 0; it must be a number above 0/],
      [{ rope_theta: -5 }, /"rope_theta"/],
      [{ rms_norm_eps: 0 }, /"rms_norm_eps" is 0/],
      [{ rms_norm_eps: -1e-6 }, /"rms_norm_eps"/],
    ];
    for (const [over, msg] of cases) {
      expect(() => parseConfig({ ...base, ...over })).toThrow(msg);
      if (!('num_hidden_layers' in over || over.rope_theta === 0)) continue; // the CLI for two of them
      const file = join(root, `config-${n++}.json`);
      writeFileSync(file, JSON.stringify({ ...base, ...over }));
      const t0 = Date.now();
      const r = cli('plan', '--config', file);
      expect(r.status, r.stdout).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(Date.now() - t0).toBeLessThan(30_000);
    }
  });

  it('serve --context beyond max_position_embeddings is refused before the model is loaded', () => {
    const dir = folder(tiny().files);
    const r = cli('serve', '--model', dir, '--context', '100000000', '--port', '0');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--context 100000000: give an integer from 16 to 4096');
  });

  it('tensors whose data_offsets overlap are refused', async () => {
    const t = { dtype: 'BF16', shape: [2, 2] };
    const header = new TextEncoder().encode(
      JSON.stringify({ a: { ...t, data_offsets: [0, 8] }, b: { ...t, data_offsets: [4, 12] }, c: { ...t, data_offsets: [12, 20] } }).padEnd(
        120,
      ),
    );
    const file = new Uint8Array(8 + header.length + 20);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    const path = join(root, 'overlap.safetensors');
    writeFileSync(path, file);
    const e = await rejection(readSafetensorsHeader(bytesSource('overlap.safetensors', readFileSync(path))));
    expect(e.code).toBe('BAD_HEADER');
    expect(e.message).toContain('tensors a and b overlap');
    // Touching but not overlapping is fine, as every writer lays tensors out.
    const ok = writeSafetensors([
      { name: 'x', dtype: 'BF16', shape: [2], data: new Uint8Array(4) },
      { name: 'y', dtype: 'BF16', shape: [0], data: new Uint8Array(0) },
      { name: 'z', dtype: 'BF16', shape: [2], data: new Uint8Array(4) },
    ]);
    expect((await readSafetensorsHeader(bytesSource('ok', ok))).tensors.size).toBe(3);
  });

  it('NaN or infinite weights are refused on load, naming the tensor', async () => {
    for (const [dtype, bits] of [
      ['bf16', 0x7fc0],
      ['bf16', 0xff80],
      ['f16', 0x7e00],
      ['f16', 0x7c00],
    ] as const) {
      const m = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, dtype });
      const bytes = m.files.get('model.safetensors')!;
      const h = await readSafetensorsHeader(bytesSource('model.safetensors', bytes));
      const info = h.tensors.get('model.layers.1.mlp.up_proj.weight')!;
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(info.offset + 2 * 7, bits, true);
      const dir = folder(m.files);
      const opened = await openModel(nodeFiles(dir));
      await opened.tensor('model.layers.0.mlp.up_proj.weight'); // untouched tensors load
      const e = await rejection(opened.tensor('model.layers.1.mlp.up_proj.weight'));
      expect(e.code).toBe('BAD_WEIGHTS');
      expect(e.message).toMatch(/model\.layers\.1\.mlp\.up_proj\.weight holds (NaN|an infinite value) \(element 7\)/);
    }
  });

  it('a tokenizer with ids past vocab_size is refused with its model', () => {
    const m = tiny();
    const tj = JSON.parse(new TextDecoder().decode(m.files.get('tokenizer.json')!)) as { added_tokens: Array<Record<string, unknown>> };
    tj.added_tokens.push({
      id: 5000,
      content: '<|extra|>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    m.files.set('tokenizer.json', json(tj));
    const dir = folder(m.files);
    const r = cli('loss', '--model', dir, '--text', textFile);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/token ids up to 5000, but config.json's vocab_size is \d+: the tokenizer belongs to another model/);
  });
});

describe('PEFT adapters', { timeout: 120_000 }, () => {
  const m = tiny();
  const adapterFiles = (cfgOver: Record<string, unknown> = {}, extra?: (t: Map<string, Uint8Array>) => void) => {
    const lora = { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] };
    const files = writePeftAdapter({ lora, baseModel: 'tiny-base', layers: randomAdapter(m.config, 4, [...LORA_TARGETS], 9) });
    const cfg = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!)) as Record<string, unknown>;
    // 1e999 is how a JSON file holds an infinite number (JSON.stringify cannot write one).
    files.set('adapter_config.json', new TextEncoder().encode(JSON.stringify({ ...cfg, ...cfgOver }).replace('"INFINITY"', '1e999')));
    extra?.(files);
    return folder(files);
  };
  const read = (dir: string) => readPeftAdapter(nodeFiles(dir), m.config);

  it('use_rslora scales by alpha/√r (given to the engine as alpha·√r over r)', async () => {
    const plain = await read(adapterFiles());
    const rs = await read(adapterFiles({ use_rslora: true }));
    expect(plain.lora.alpha / plain.lora.r).toBe(8 / 4);
    expect(rs.lora.alpha / rs.lora.r).toBeCloseTo(8 / Math.sqrt(4), 12);
    expect(rs.layers[0].q_proj!.A).toEqual(plain.layers[0].q_proj!.A);
  });

  it('options that change what the weights mean are refused by name', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ fan_in_fan_out: true }, /fan_in_fan_out is true/],
      [{ rank_pattern: { q_proj: 8 } }, /rank_pattern gives some modules their own rank \(q_proj\)/],
      [{ alpha_pattern: { 'model.layers.0.self_attn.v_proj': 2 } }, /alpha_pattern/],
      [{ modules_to_save: ['lm_head'] }, /modules_to_save lists lm_head/],
      [{ lora_alpha: 'INFINITY' }, /lora_alpha is Infinity; it must be a finite number/],
    ];
    for (const [over, msg] of cases) {
      const e = await rejection(read(adapterFiles(over)));
      expect(e.code).toBe('BAD_ADAPTER');
      expect(e.message).toMatch(msg);
    }
    // Empty patterns and null modules_to_save are what PEFT writes by default: accepted.
    await read(adapterFiles({ rank_pattern: {}, alpha_pattern: {}, modules_to_save: null }));
  });

  it('tensors for layers the model lacks, or modules it does not adapt, are refused by name', async () => {
    const withTensor = (name: string, shape: number[]) =>
      adapterFiles({}, (files) => {
        const lora = { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] };
        const layers = randomAdapter(m.config, 4, [...LORA_TARGETS], 9);
        const again = writePeftAdapter({ lora, baseModel: 'tiny-base', layers });
        const h = readSafetensorsHeaderSync(again.get('adapter_model.safetensors')!);
        h.push({ name, dtype: 'F32', shape, data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)) });
        files.set('adapter_model.safetensors', writeSafetensors(h));
      });
    let e = await rejection(read(withTensor(peftTensorName(7, 'q_proj', 'A'), [4, 32])));
    expect(e.message).toContain('base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight');
    expect(e.message).toContain("not LoRA weights of this model's 2 layers");
    e = await rejection(read(withTensor('base_model.model.lm_head.weight', [10, 32])));
    expect(e.message).toContain('base_model.model.lm_head.weight');
  });

  it('NaN in LoRA tensors is refused, naming the tensor', async () => {
    const dir = adapterFiles({}, (files) => {
      const tensors = readSafetensorsHeaderSync(files.get('adapter_model.safetensors')!);
      const poisoned = tensors.find((t) => t.name === peftTensorName(1, 'down_proj', 'B'))!;
      new DataView(poisoned.data.buffer).setFloat32(4, Number.NaN, true);
      files.set('adapter_model.safetensors', writeSafetensors(tensors));
    });
    const e = await rejection(read(dir));
    expect(e.code).toBe('BAD_ADAPTER');
    expect(e.message).toContain(`${peftTensorName(1, 'down_proj', 'B')} holds NaN or infinite values`);
  });

  it('an adapter trained on another base model is named in a warning the CLI prints', () => {
    expect(baseModelWarning('Qwen/Qwen2.5-Coder-0.5B', 'qwen2.5-coder-0.5b')).toBeUndefined();
    expect(baseModelWarning('', 'anything')).toBeUndefined();
    // The Use page compares with the loaded model's stored id (hub id "Org--Name", a picked "folder:name").
    expect(baseModelWarning('Qwen/Qwen2.5-Coder-0.5B', 'Qwen--Qwen2.5-Coder-0.5B@v2')).toBeUndefined();
    expect(baseModelWarning('tiny-base', 'folder:tiny-base')).toBeUndefined();
    expect(baseModelWarning('tiny-base', 'folder:other')).toContain('trained on tiny-base, not folder:other');
    expect(baseModelWarning('Qwen/Qwen2.5-Coder-1.5B', 'Qwen2.5-Coder-0.5B')).toMatch(
      /trained on Qwen\/Qwen2.5-Coder-1.5B, not Qwen2.5-Coder-0.5B/,
    );
    const model = folder(m.files);
    const adapter = adapterFiles({ base_model_name_or_path: 'someone/other-model' });
    // The warning comes before the GPU is touched, so it shows whether or not this machine has one.
    const r = cli('loss', '--model', model, '--text', textFile, '--adapter', adapter, '--json');
    expect(r.stderr).toMatch(/Warning: The adapter in .* was trained on someone\/other-model, not m\d+/);
  });
});

/** Tensors of a safetensors file written by writeSafetensors (header parsed synchronously). */
function readSafetensorsHeaderSync(bytes: Uint8Array) {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Record<
    string,
    { dtype: 'F32'; shape: number[]; data_offsets: [number, number] }
  >;
  return Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: t.shape,
      data: bytes.slice(8 + len + t.data_offsets[0], 8 + len + t.data_offsets[1]),
    }));
}

describe('sources', { timeout: 120_000 }, () => {
  it('/dev/zero and a FIFO are refused at once, by the CLI and the loader', async () => {
    const fifo = join(root, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const [path, what] of [
      ['/dev/zero', 'a device'],
      [fifo, 'a FIFO (named pipe)'],
    ]) {
      const t0 = Date.now();
      const r = cli('filter', '--source', path);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${path} is ${what}: give a folder, a regular file`);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const e = await rejection(loadNodeSource(path));
      expect(e).toBeInstanceOf(SourceError);
      expect(e.code).toBe('SOURCE_NOT_REGULAR');
    }
    // In a folder, the FIFO is skipped and listed, never opened.
    const dir = join(root, 'with-fifo');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.py'), 'print(1)\n');
    expect(spawnSync('mkfifo', [join(dir, 'p')]).status).toBe(0);
    const s = await loadNodeSource(dir);
    expect(s.files.map((f) => f.path)).toEqual(['a.py']);
    expect(s.skipped).toEqual([{ path: 'p', why: 'a device, fifo or other special entry' }]);
  });

  it('a file past the size limit is refused from its size, without reading it', async () => {
    const big = join(root, 'big.py');
    writeFileSync(big, '');
    truncateSync(big, 65 * 2 ** 20); // sparse: no disk used
    const e = await rejection(loadNodeSource(big));
    expect(e.code).toBe('SOURCE_TOO_LARGE');
    expect(e.message).toContain('larger than 64 MiB');
    // In a folder, it is skipped and listed; the rest is read.
    const dir = join(root, 'with-big');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.py'), 'print(1)\n');
    writeFileSync(join(dir, 'big.py'), '');
    truncateSync(join(dir, 'big.py'), 65 * 2 ** 20);
    const s = await loadNodeSource(dir);
    expect(s.files.map((f) => f.path)).toEqual(['a.py']);
    expect(s.skipped).toEqual([{ path: 'big.py', why: 'larger than 64 MiB' }]);
  });
});

describe('git clone', { timeout: 120_000 }, () => {
  it('a pack past HOMECODER_GIT_MAX_MB stops the clone with a typed error', async () => {
    const server = await startGitServer();
    try {
      // 3 MiB that does not compress: the pack is ≈ 3 MiB.
      const noise = new Uint8Array(3 * 2 ** 20);
      for (let i = 0; i < noise.length; i += 65536) getRandomValues(noise.subarray(i, i + 65536));
      server.commit(
        'big',
        new Map([
          ['a.py', new TextEncoder().encode('def add(a, b):\n    return a + b\n')],
          ['blob.bin', noise],
        ]),
      );
      const url = `${server.url}/big.git`;
      // Async: the git server lives in this process.
      const run = (env: Record<string, string>) =>
        new Promise<{ status: number; stdout: string; stderr: string }>((done) =>
          execFile(
            process.execPath,
            ['bin/homecoder.mjs', 'filter', '--source', url],
            { env: { ...process.env, ...env } },
            (err, stdout, stderr) => done({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
          ),
        );
      const r = await run({ HOMECODER_GIT_MAX_MB: '1' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('sends more than 1 MiB: the repository is too large to clone here');
      const e = await rejection(withEnv('HOMECODER_GIT_MAX_MB', '1', () => loadNodeSource(url)));
      expect(e.code).toBe('GIT_PACK_TOO_LARGE');
      // Under the limit the same repository clones.
      const ok = await run({ HOMECODER_GIT_MAX_MB: '8' });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('1 of 2 files accepted'); // blob.bin is too large for stage 1, a.py passes
    } finally {
      await server.close();
    }
  });
});

async function withEnv<T>(key: string, value: string, f: () => Promise<T>): Promise<T> {
  const old = process.env[key];
  process.env[key] = value;
  try {
    return await f();
  } finally {
    if (old === undefined) delete process.env[key];
    else process.env[key] = old;
  }
}

describe('secrets in sources', { timeout: 120_000 }, () => {
  it('files holding keys or tokens are rejected as "holds a secret", naming the rule and line, never the secret', () => {
    const dir = join(root, 'with-secrets');
    mkdirSync(dir);
    // Built at run time so this test file holds no secret-shaped string itself.
    const aws = `AKIA${'Q3EGRT5XMPL7ZV2W'}`;
    const ghp = `ghp_${'x7Kq2Lm9Rt4Vw8Yz1Bc6Dn3Fg5Hj0Pa2Se9U'}`;
    const body = 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n'.repeat(3);
    const pem = `-----BEGIN RSA PRIVATE ${'KEY'}-----\n${body}-----END RSA PRIVATE KEY-----\n`;
    writeFileSync(join(dir, 'deploy.py'), `import boto3\n\nKEY = "${aws}"\n`);
    writeFileSync(join(dir, 'gh.js'), `const token = '${ghp}';\nfetch(url, { headers: { token } });\n`);
    writeFileSync(join(dir, 'ssl.py'), `CERT = '''\n${pem}'''\n`);
    writeFileSync(join(dir, 'docs_example.py'), 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # the documented example key\nprint(AWS_KEY)\n');
    writeFileSync(join(dir, 'clean.py'), 'def add(a, b):\n    return a + b\n');
    const r = cli('filter', '--source', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 of 5 files accepted');
    expect(r.stdout).toMatch(/holds a secret\s+3/);
    expect(r.stdout).toContain('holds a secret: holds an AWS access key (gitleaks rule aws-access-token) on line 3');
    expect(r.stdout).toContain('gitleaks rule github-pat) on line 1');
    expect(r.stdout).toContain('gitleaks rule private-key) on line 2');
    expect(r.stdout).not.toContain(aws);
    expect(r.stdout).not.toContain(ghp);
    // A force-include glob does not let a secret in.
    const forced = cli('filter', '--source', dir, '--include', '*.py', '--json');
    const deploy = forced.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { path?: string; reason?: string })
      .find((d) => d.path === 'deploy.py');
    expect(deploy?.reason).toBe('secrets');
  });
});

const hasZip = spawnSync('zip', ['-v']).status === 0;

describe.skipIf(!hasZip)(
  `zip64 archives${hasZip ? '' : " [skipped: no 'zip' command; scripts/setup-test-env.sh installs it]"}`,
  { timeout: 120_000 },
  () => {
    // Made by Info-ZIP's zip with -fz (zip64 records forced), as Java and Windows write large archives.
    const zip64 = (name: string, files: Record<string, Uint8Array | string>): string => {
      const dir = join(root, `z${n++}`);
      mkdirSync(join(dir, 'proj'), { recursive: true });
      for (const [p, b] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, 'proj', p)), { recursive: true });
        writeFileSync(join(dir, 'proj', p), b);
      }
      const out = join(root, name);
      const r = spawnSync('zip', ['-q', '-fz', '-r', out, 'proj'], { cwd: dir });
      expect(r.status, String(r.stderr)).toBe(0);
      return out;
    };

    it('a good zip64 archive imports, through the CLI and the loader', async () => {
      const file = zip64('good64.zip', { 'a.py': 'def add(a, b):\n    return a + b\n', 'lib/b.py': 'import os\nprint(os.getcwd())\n' });
      const bytes = readFileSync(file);
      expect(bytes.readUInt32LE(bytes.length - 22 - 20)).toBe(0x07064b50); // a zip64 locator: really zip64
      const s = await loadNodeSource(file);
      expect(s.files.map((f) => [f.path, new TextDecoder().decode(f.bytes)])).toEqual([
        ['a.py', 'def add(a, b):\n    return a + b\n'],
        ['lib/b.py', 'import os\nprint(os.getcwd())\n'],
      ]);
      const r = cli('filter', '--source', file);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('2 of 2 files accepted');
    });

    it('a zip64 bomb is called a bomb', async () => {
      const file = zip64('bomb64.zip', { 'ok.py': 'x = 1\n', 'zeros.py': new Uint8Array(80 * 2 ** 20) });
      const e = await rejection(loadNodeSource(file));
      expect(e.code).toBe('ARCHIVE_BOMB');
      const r = cli('filter', '--source', file);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('bomb64.zip');
    });
  },
);

describe('settings and runs', { timeout: 120_000 }, () => {
  it('train-steps validates like train, before the model is read: no silent clamping', () => {
    const dir = folder(tiny().files);
    const base = ['train-steps', '--model', dir, '--text', textFile, '--out', join(root, 'ts-out')];
    for (const [flags, msg] of [
      [['--steps', '2', '--lora-r', '0'], /loraR must be an integer from 1 to 1024 \(got 0\)/],
      [['--steps', '2', '--seq-len', '0'], /seqLen must be an integer from 2 to/],
      [['--steps', '2', '--lora-alpha', '1e999'], /--lora-alpha must be a number/],
      [['--steps', '1e12'], /steps must be an integer from 0 to 1000000/],
      [['--steps', '2', '--lr=-1'], /lr must be a number in \[0, 1\]/],
    ] as const) {
      const r = cli(...base, ...flags);
      expect(r.status, r.stdout).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('train validates settings before any source is read', () => {
    const dir = folder(tiny().files);
    for (const [flags, msg] of [
      [['--warmup', '1e12'], /warmupSteps must be an integer from 0 to 1000000 \(got 1000000000000\)/],
      [['--steps', '10', '--warmup', '20'], /warmupSteps must be at most the number of steps \(10\)/],
      [['--lora-r', '0'], /loraR must be an integer/],
      [['--lora-alpha', '1e999'], /must be a number/],
      [['--checkpoint-minutes=-1'], /checkpointMinutes must be a number in \[0, 1440\] \(got -1\)/],
      [['--checkpoint-minutes', '1e9'], /checkpointMinutes must be a number in \[0, 1440\]/],
      [['--loss-threshold', 'high'], /--loss-threshold must be a positive number of nats or "auto"/],
      [['--repo-share', '1.5'], /--repo-share must be a number from 0 to 1/],
    ] as const) {
      const r = cli('train', '--model', dir, '--source', join(root, 'no-such-folder'), '--out', join(root, `t-out-${n++}`), ...flags);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toContain('does not exist');
    }
  });

  it('--resume refuses a damaged run.json, another base model, and changed settings, before the GPU', () => {
    const dir = folder(tiny().files);
    const out = join(root, 'run-out');
    mkdirSync(out);
    writeFileSync(join(out, 'run.json'), '{"id":"x","settings":{');
    let r = cli('train', '--model', dir, '--out', out, '--resume');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/run\.json of this run is damaged \(.*JSON.*\), so it cannot be resumed/);
    writeFileSync(
      join(out, 'run.json'),
      JSON.stringify({ id: 'x', model: { id: '/models/other-model', label: 'other-model' }, settings: {}, log: [] }),
    );
    r = cli('train', '--model', dir, '--out', out, '--resume');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('was started on other-model (/models/other-model), not m');
    r = cli('train', '--model', '/models/other-model', '--out', out, '--resume', '--lr', '0.1');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--resume continues the run with the settings it started with; drop --lr');
  });
});
