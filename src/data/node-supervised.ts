// Supervised data from disk (the CLI's --chat and --pairs): a JSONL or CSV file, or a folder
// of them (its .jsonl, .json and .csv files, sorted by name, subfolders too).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError } from './errors.ts';
import type { CsvColumns, SupervisedFile } from './dataset/supervised.ts';

const DATA_FILE = /\.(jsonl|json|csv)$/i;

async function listData(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listData(p)));
    else if (e.isFile() && DATA_FILE.test(e.name)) out.push(p);
  }
  return out.sort();
}

export async function readSupervisedPaths(paths: string[], columns?: CsvColumns): Promise<SupervisedFile[]> {
  const out: SupervisedFile[] = [];
  for (const path of paths) {
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new SourceError('PATH_NOT_FOUND', `${path} does not exist: give a JSONL or CSV file, or a folder of them.`);
    const files = st.isDirectory() ? await listData(path) : [path];
    if (!files.length)
      throw new SourceError('SOURCE_EMPTY', `${path} holds no .jsonl, .json or .csv file: give a JSONL or CSV file, or a folder of them.`);
    for (const f of files) out.push({ name: f, text: await readFile(f, 'utf8'), columns });
  }
  return out;
}
