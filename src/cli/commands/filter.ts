// `homecoder filter`: the stage-1 filter headless over folders, files, archives and git URLs.
import { parseArgs } from 'node:util';
import { importAndFilter } from '../../data/node-pipeline.ts';
import { SourceError } from '../../data/errors.ts';
import { REASON_LABELS } from '../../data/filter/summary.ts';
import { DEFAULT_FILTER_SETTINGS } from '../../data/filter/settings.ts';
import { UsageError } from '../../errors.ts';

export const filterHelp = `Usage: homecoder filter --source PATH|URL|ARCHIVE [--source ...] [options]

Imports each source (a folder, a file, a .zip/.tar/.tar.gz/.tgz/.tar.bz2 archive, or an
http(s) git URL, cloned shallow) and runs the same stage-1 filter as the app: one decision
per file with its reason and numbers, then a summary by reason.

  --source S        a folder, file, archive or git URL (repeatable)
  --json            one JSON object per line per decision, then {"summary": ...}
  --ref REF         git branch or tag (default: the remote's HEAD)
  --depth N         git history depth (default 1)
                    a private repository's token is read from HOMECODER_GIT_TOKEN; a clone stops
                    past HOMECODER_GIT_MAX_MB of pack (default 1024)
  --include GLOB    force-include matching paths (repeatable)
  --exclude GLOB    leave matching paths out (repeatable)
  --lang NAME=on|off  switch a language (repeatable), e.g. --lang Markdown=on
  --max-kib N       size limit per file (default ${DEFAULT_FILTER_SETTINGS.maxBytes / 1024})
  --no-gitignore    do not apply the sources' .gitignore files
  --test GLOB       mark matching paths as the test set (repeatable)
`;

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

type FilterRun = Awaited<ReturnType<typeof importAndFilter>>;

/** The import and filter settings from the command line. */
function importOptions(values: {
  ref?: string;
  depth?: string;
  test?: string[];
  include?: string[];
  exclude?: string[];
  lang?: string[];
  'max-kib'?: string;
  'no-gitignore'?: boolean;
}): Parameters<typeof importAndFilter>[1] {
  const languages: Record<string, boolean> = {};
  for (const l of values.lang ?? []) {
    const m = /^(.+)=(on|off)$/.exec(l);
    if (!m) throw new UsageError(`--lang ${l}: write NAME=on or NAME=off.`);
    languages[m[1]] = m[2] === 'on';
  }
  const depth = values.depth ? Number(values.depth) : undefined;
  if (depth !== undefined && !(Number.isInteger(depth) && depth > 0)) throw new UsageError('--depth: give a positive whole number.');
  const maxKib = values['max-kib'] ? Number(values['max-kib']) : undefined;
  if (maxKib !== undefined && !(maxKib > 0)) throw new UsageError('--max-kib: give a positive number.');
  return {
    ref: values.ref,
    depth,
    token: process.env.HOMECODER_GIT_TOKEN || undefined,
    test: values.test,
    settings: {
      include: values.include ?? [],
      exclude: values.exclude ?? [],
      languages,
      useGitignore: !values['no-gitignore'],
      ...(maxKib ? { maxBytes: Math.round(maxKib * 1024) } : {}),
    },
  };
}

export async function filterCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      ref: { type: 'string' },
      depth: { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      lang: { type: 'string', multiple: true },
      'max-kib': { type: 'string' },
      'no-gitignore': { type: 'boolean', default: false },
      test: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(filterHelp);
    return 0;
  }
  if (!values.source?.length) {
    process.stderr.write(`homecoder filter: give at least one --source.\n\n${filterHelp}`);
    return 2;
  }
  let result: FilterRun;
  try {
    result = await importAndFilter(values.source, importOptions(values));
  } catch (err) {
    if (err instanceof SourceError) {
      if (values.json) console.log(JSON.stringify({ error: { code: err.code, message: err.message } }));
      else console.error(`homecoder filter: ${err.message}`);
      return 1;
    }
    throw err;
  }
  if (values.json) {
    const lines = result.decisions.map((d) => JSON.stringify(d));
    lines.push(JSON.stringify({ summary: result.summary, sources: result.sources }));
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
  printText(result);
  return 0;
}

/** One line per skipped entry and per decision, then the summary by reason. */
function printText({ decisions, summary, sources }: FilterRun): void {
  for (const s of sources) for (const k of s.skipped) console.log(`SKIPPED  ${s.name}: ${k.path} (${k.why})`);
  for (const d of decisions) {
    const where = sources.length > 1 ? `${d.source}: ${d.path}` : d.path;
    const nums = `${d.language ?? '-'}, ${kib(d.bytes)}, ${d.lines} lines${d.test ? ', test' : ''}`;
    console.log(
      d.accepted
        ? `ACCEPT   ${where} (${nums})${d.detail ? ` — ${d.detail}` : ''}`
        : `REJECT   ${where} — ${REASON_LABELS[d.reason]}: ${d.detail} (${nums})`,
    );
  }
  console.log(`\n${summary.accepted} of ${summary.total} files accepted (${summary.acceptedTest} in the test set).`);
  for (const [r, n] of Object.entries(summary.byReason))
    if (n && r !== 'accepted') console.log(`  ${REASON_LABELS[r as keyof typeof REASON_LABELS].padEnd(24)} ${n}`);
  if (summary.explanation) console.log(summary.explanation);
}
