// The source and stage-1 filter flags every command that imports sources reads (filter,
// train, dataset): one option table, one help text, one parser.
import { isGitSpec } from '../data/node-sources.ts';
import type { importAndFilter } from '../data/node-pipeline.ts';
import { DEFAULT_FILTER_SETTINGS } from '../data/filter/settings.ts';
import { UsageError } from '../errors.ts';

/** parseArgs options for the source flags (`--source` itself is each command's own). */
export const SOURCE_OPTIONS = {
  ref: { type: 'string' },
  depth: { type: 'string' },
  history: { type: 'string' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  lang: { type: 'string', multiple: true },
  'max-kib': { type: 'string' },
  'no-gitignore': { type: 'boolean', default: false },
} as const;

export const SOURCE_HELP = `  --ref REF         git branch or tag (default: the remote's HEAD)
  --depth N         git history depth (default 1)
                    a private repository's token is read from HOMECODER_GIT_TOKEN; a clone stops
                    past HOMECODER_GIT_MAX_MB of pack (default 1024)
  --history N       also take the latest N non-merge commits (message + diff of each file) of
                    each git URL (fetched N+1 deep) or local repository folder as training examples
  --include GLOB    force-include matching paths (repeatable)
  --exclude GLOB    leave matching paths out (repeatable)
  --lang NAME=on|off  switch a language (repeatable), e.g. --lang Markdown=on
  --max-kib N       size limit per file (default ${DEFAULT_FILTER_SETTINGS.maxBytes / 1024})
  --no-gitignore    do not apply the sources' .gitignore files
`;

export interface SourceValues {
  ref?: string;
  depth?: string;
  history?: string;
  include?: string[];
  exclude?: string[];
  lang?: string[];
  'max-kib'?: string;
  'no-gitignore'?: boolean;
}

const positiveInt = (flag: string, v: string | undefined, zero = false): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && (n > 0 || (zero && n === 0))))
    throw new UsageError(`--${flag}: give a ${zero ? 'whole number (0 or more)' : 'positive whole number'}, not "${v}".`);
  return n;
};

/**
 * The import and filter options from the command line. `--history` needs a source it can
 * read history from: a git URL or a folder that is a git repository.
 */
export function importOptions(values: SourceValues, sources: string[] = []): Parameters<typeof importAndFilter>[1] {
  const languages: Record<string, boolean> = {};
  for (const l of values.lang ?? []) {
    const m = /^(.+)=(on|off)$/.exec(l);
    if (!m) throw new UsageError(`--lang ${l}: write NAME=on or NAME=off.`);
    languages[m[1]] = m[2] === 'on';
  }
  const depth = positiveInt('depth', values.depth);
  const history = positiveInt('history', values.history, true);
  if (history && !sources.some(isGitSpec))
    throw new UsageError(
      `--history ${history} reads commits from a git repository, and none of the sources is one: give a git URL (--source https://…) or a folder with a .git inside, or drop --history.`,
    );
  const maxKib = values['max-kib'] ? Number(values['max-kib']) : undefined;
  if (maxKib !== undefined && !(maxKib > 0)) throw new UsageError('--max-kib: give a positive number.');
  return {
    ref: values.ref,
    depth,
    history,
    token: process.env.HOMECODER_GIT_TOKEN || undefined,
    settings: {
      include: values.include ?? [],
      exclude: values.exclude ?? [],
      languages,
      useGitignore: !values['no-gitignore'],
      ...(maxKib ? { maxBytes: Math.round(maxKib * 1024) } : {}),
    },
  };
}
