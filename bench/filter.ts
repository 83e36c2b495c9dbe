// `npm run bench:filter`: stage-1 filter throughput (files/s) in Node over generated files
// shaped like a source tree, cold (every file analysed) and warm (content facts cached, as
// after a `git pull` that changed nothing). Rewrites the filter section of docs/BENCHMARKS.md.
import { readFile, writeFile } from 'node:fs/promises';
import { filterFiles, type FilterInput } from '../src/data/filter/stage1.ts';
import { mixedTree } from '../test/helpers/planted.ts';

const N = Number(process.argv.find((a) => a.startsWith('--files='))?.slice(8) ?? 20_000);
const _enc = new TextEncoder();

/** The same mix as the browser test (test/helpers/planted.ts). */
export function benchFiles(n: number): FilterInput[] {
  return [...mixedTree(n)].map(([path, bytes]) => ({ source: 'bench', path, bytes }));
}

const files = benchFiles(N);
const bytes = files.reduce((a, f) => a + f.bytes.length, 0);
const cache = new Map();
let t = performance.now();
const cold = await filterFiles(files, {}, { cache });
const coldS = (performance.now() - t) / 1000;
t = performance.now();
await filterFiles(files, {}, { cache });
const warmS = (performance.now() - t) / 1000;

const rows = [
  ['cold (every file analysed)', N, coldS, N / coldS, bytes / coldS / 1048576],
  ['warm (content facts cached)', N, warmS, N / warmS, bytes / warmS / 1048576],
] as const;
const table = [
  '| run | files | seconds | files/s | MiB/s |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map(
    ([name, n, s, fps, mbs]) =>
      `| ${name} | ${n.toLocaleString('en')} | ${s.toFixed(2)} | ${Math.round(fps).toLocaleString('en')} | ${mbs.toFixed(1)} |`,
  ),
].join('\n');
console.log(table);
console.log(`accepted ${cold.summary.accepted}, duplicates ${cold.summary.byReason.duplicate}`);

const MARK = '<!-- bench:filter -->';
const path = new URL('../docs/BENCHMARKS.md', import.meta.url);
const doc = await readFile(path, 'utf8');
const section =
  `${MARK}\n## Stage-1 filter (latest run, ${new Date().toISOString().slice(0, 10)})\n\n` +
  `\`npm run bench:filter\`: Node ${process.version}, one thread, ${N.toLocaleString('en')} generated files ` +
  `(${(bytes / 1048576).toFixed(1)} MiB: Python modules, Markdown notes, digit tables).\n\n${table}\n${MARK}`;
const re = new RegExp(`${MARK}[\\s\\S]*?${MARK}`);
// Above the GPU bench's marker: \`npm run bench\` rewrites everything below its own.
const gpuMark = '<!-- bench:latest -->';
const next = re.test(doc)
  ? doc.replace(re, section)
  : doc.includes(gpuMark)
    ? doc.replace(gpuMark, `${section}\n\n${gpuMark}`)
    : `${doc.trimEnd()}\n\n${section}\n`;
await writeFile(path, next);
