// Where the Train page's data comes from: the accepted files of the Sources/Filter
// pages, or files the user picks or drops here ("use these files"), which go through
// the same stage-1 filter.
import type { TrainingFile } from '../../data/types.ts';
import { acceptedTrainingFiles, filterToTrainingFiles } from '../../data/training-files.ts';

/** Accepted files of the last filter run on the Filter page (IndexedDB). */
export async function loadTrainingFiles(): Promise<TrainingFile[]> {
  const out: TrainingFile[] = [];
  for await (const f of acceptedTrainingFiles()) out.push(f);
  return out;
}

/** Files from a folder picker or a drop, through the stage-1 filter with default settings. */
export async function filesFromPicked(files: File[], testPattern: string): Promise<{ files: TrainingFile[]; skipped: number }> {
  const test = testPattern.trim() ? new RegExp(testPattern.trim()) : undefined;
  const inputs = await Promise.all(
    files.map(async (file) => {
      const rel = file.webkitRelativePath || file.name;
      const path = rel.includes('/') && file.webkitRelativePath ? rel.slice(rel.indexOf('/') + 1) : rel;
      return { source: 'picked files', path, bytes: new Uint8Array(await file.arrayBuffer()), test: test?.test(path) ?? false };
    }),
  );
  const { accepted, summary } = await filterToTrainingFiles(inputs);
  return { files: accepted.sort((a, b) => (a.path < b.path ? -1 : 1)), skipped: summary.rejected };
}
