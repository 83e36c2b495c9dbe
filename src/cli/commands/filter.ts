// `homecoder filter`: the stage-1 filter headless over folders, files, archives and git URLs.
import { parseArgs } from 'node:util';
import { importAndFilter } from '../../data/node-pipeline.ts';
import { SourceError } from '../../data/errors.ts';
import { REASON_LABELS } from '../../data/filter/summary.ts';
import type { FileDecision } from '../../data/types.ts';
import { importOptions, SOURCE_HELP, SOURCE_OPTIONS } from '../source-args.ts';

export const filterHelp = `Usage: homecoder filter --source PATH|URL|ARCHIVE [--source ...] [options]

Imports each source (a folder, a file, a .zip/.tar/.tar.gz/.tgz/.tar.bz2 archive, or an
http(s) git URL, cloned shallow) and runs the same stage-1 filter as the app: one decision
per file with its reason and numbers, then a summary by reason.

  --source S        a folder, file, archive or git URL (repeatable)
  --json            one JSON object per line per decision, then {"summary": ...}
${SOURCE_HELP}  --test GLOB       mark matching paths as the test set (repeatable)
`;

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

type FilterRun = Awaited<ReturnType<typeof importAndFilter>>;

export async function filterCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      ...SOURCE_OPTIONS,
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
    result = await importAndFilter(values.source, { ...importOptions(values, values.source), test: values.test });
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

/** How a decision names what it is about: a file's path, or a commit's short id and subject. */
const entryName = (d: FileDecision) => (d.kind === 'commit' ? `commit ${d.path.slice(7, 14)} "${d.title ?? ''}"` : d.path);

/** One line per skipped entry and per decision, then the summary by reason (and of the history). */
function printText({ decisions, summary, sources }: FilterRun): void {
  for (const s of sources) for (const k of s.skipped) console.log(`SKIPPED  ${s.name}: ${k.path} (${k.why})`);
  for (const d of decisions) {
    const where = sources.length > 1 ? `${d.source}: ${entryName(d)}` : entryName(d);
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
  if (summary.notebooks)
    console.log(`Notebooks: ${summary.notebooks.accepted} of ${summary.notebooks.total} accepted, read as the code of their cells.`);
  if (summary.explanation) console.log(summary.explanation);
  const h = summary.history;
  if (h) {
    const merges = sources.reduce((a, s) => a + (s.history?.merges ?? 0), 0);
    console.log(`History: ${h.accepted} of ${h.total} commits accepted${merges ? ` (${merges} merge commits passed over)` : ''}.`);
    for (const [r, n] of Object.entries(h.byReason))
      if (n && r !== 'accepted') console.log(`  ${REASON_LABELS[r as keyof typeof REASON_LABELS].padEnd(24)} ${n}`);
  }
}
