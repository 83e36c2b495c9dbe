// Where the Train page's data comes from: the accepted files of the Sources/Filter
// pages, or files the user picks or drops here ("use these files").
import type { TrainingFile } from '../../data/training-file.ts';

/**
 * Accepted files from the Sources and Filter pages (IndexedDB). The sources store is not
 * on this branch yet, so there are none; the page then asks for a folder or files.
 */
export async function loadTrainingFiles(): Promise<TrainingFile[]> {
  return [];
}

const MAX_BYTES = 512 * 1024;

/** Text files from a folder picker or a drop; dot-folders, binaries and files over 512 KiB skipped. */
export async function filesFromPicked(files: File[], testPattern: string): Promise<{ files: TrainingFile[]; skipped: number }> {
  let test: RegExp | undefined;
  if (testPattern.trim()) test = new RegExp(testPattern.trim());
  const out: TrainingFile[] = [];
  let skipped = 0;
  for (const file of files) {
    const rel = file.webkitRelativePath || file.name;
    const path = rel.includes('/') && file.webkitRelativePath ? rel.slice(rel.indexOf('/') + 1) : rel;
    const bytes = file.size > MAX_BYTES || path.split('/').some((p) => p.startsWith('.')) ? undefined : new Uint8Array(await file.arrayBuffer());
    if (!bytes || bytes.length === 0 || bytes.subarray(0, 8192).includes(0)) {
      skipped++;
      continue;
    }
    out.push({ path, source: 'picked files', text: new TextDecoder().decode(bytes), test: test?.test(path) ?? false });
  }
  return { files: out.sort((a, b) => (a.path < b.path ? -1 : 1)), skipped };
}
