// Supervised training data, read from the user's files: conversations {"messages":[...]} and
// prompt/completion pairs ({"prompt","completion"} or {"input","output"}), as JSONL lines or
// as two chosen columns of a CSV file. A bad line never stops the rest: it is reported by file
// and line number and skipped, so the user sees every one of them.
import Papa from 'papaparse';
import { DatasetError } from '../errors.ts';
import type { ChatMessage } from './chat.ts';

export interface ChatExample {
  kind: 'chat';
  /** File name, and the line the example starts on (1-based). */
  source: string;
  line: number;
  messages: ChatMessage[];
}

export interface PairExample {
  kind: 'pair';
  source: string;
  line: number;
  prompt: string;
  completion: string;
}

export type SupervisedExample = ChatExample | PairExample;

/** A line that was skipped, and why. */
export interface BadLine {
  source: string;
  line: number;
  reason: string;
}

/** CSV columns holding the prompt and the completion (by header name). */
export interface CsvColumns {
  prompt: string;
  completion: string;
}

/** One file of supervised data as the user gave it. */
export interface SupervisedFile {
  name: string;
  /** Its lines, each a conversation or a pair (either shape, whichever flag or field brought it). */
  text: string;
  /** For a .csv file: its columns (default: prompt/completion, else input/output). */
  columns?: CsvColumns;
}

export interface SupervisedData {
  examples: SupervisedExample[];
  bad: BadLine[];
}

const ROLES = new Set(['system', 'user', 'assistant']);
const SHAPES = '{"messages":[{"role":"user","content":"…"},{"role":"assistant","content":"…"}]} or {"prompt":"…","completion":"…"}';

/** One JSON value as an example, or the reason it is not one. */
function exampleOf(v: unknown, source: string, line: number): SupervisedExample | string {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return `not a JSON object; each line must be ${SHAPES}`;
  const o = v as Record<string, unknown>;
  if ('messages' in o) {
    const msgs = o.messages;
    if (!Array.isArray(msgs) || !msgs.length) return '"messages" is not a non-empty array';
    for (const [i, m] of msgs.entries()) {
      const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
      if (typeof role !== 'string' || !ROLES.has(role))
        return `message ${i + 1} has role ${JSON.stringify(role)}; use system, user or assistant`;
      if (typeof content !== 'string') return `message ${i + 1} has no "content" string`;
    }
    if (!msgs.some((m) => m.role === 'assistant')) return 'no assistant message: nothing to learn from';
    return { kind: 'chat', source, line, messages: msgs.map((m) => ({ role: m.role, content: m.content })) };
  }
  const prompt = o.prompt ?? o.input;
  const completion = o.completion ?? o.output;
  if (prompt === undefined && completion === undefined)
    return `no "messages", "prompt"/"completion" or "input"/"output"; each line must be ${SHAPES}`;
  // Name the field in the shape the line uses (prompt/completion or input/output).
  const io = !('prompt' in o) && !('completion' in o);
  if (typeof prompt !== 'string') return `"${io ? 'input' : 'prompt'}" is missing or not a string`;
  if (typeof completion !== 'string') return `"${io ? 'output' : 'completion'}" is missing or not a string`;
  if (!completion) return 'the completion is empty: nothing to learn from';
  return { kind: 'pair', source, line, prompt, completion };
}

export function parseSupervisedJsonl(text: string, source: string): SupervisedData {
  const out: SupervisedData = { examples: [], bad: [] };
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (err) {
      out.bad.push({ source, line: i + 1, reason: `not JSON (${(err as Error).message})` });
      return;
    }
    const ex = exampleOf(v, source, i + 1);
    if (typeof ex === 'string') out.bad.push({ source, line: i + 1, reason: ex });
    else out.examples.push(ex);
  });
  return out;
}

/** The columns to use: the chosen ones, else prompt/completion, else input/output. */
function csvColumns(fields: string[], chosen: CsvColumns | undefined, source: string): CsvColumns {
  const has = (c: CsvColumns) => fields.includes(c.prompt) && fields.includes(c.completion);
  const pick =
    chosen ??
    [
      { prompt: 'prompt', completion: 'completion' },
      { prompt: 'input', completion: 'output' },
    ].find(has);
  if (pick && has(pick)) return pick;
  const missing = pick ? [pick.prompt, pick.completion].filter((c) => !fields.includes(c)) : ['prompt', 'completion'];
  throw new DatasetError(
    'BAD_CSV_COLUMNS',
    `${source} has no column ${missing.map((c) => `"${c}"`).join(' or ')} (its header has ${fields.map((f) => `"${f}"`).join(', ') || 'no columns'}). ` +
      'Choose the prompt and completion columns (--prompt-column, --completion-column; on the Train page, the two column fields).',
  );
}

/**
 * Pairs from two columns of a CSV file with a header row (RFC 4180 quoting through papaparse,
 * so a quoted field may span lines). Lines are the file's own line numbers.
 */
export function parseSupervisedCsv(text: string, source: string, chosen?: CsvColumns): SupervisedData {
  const out: SupervisedData = { examples: [], bad: [] };
  const parsed = Papa.parse<Record<string, string>>(text.replace(/^\uFEFF/, ''), { header: true, skipEmptyLines: true });
  const cols = csvColumns(parsed.meta.fields ?? [], chosen, source);
  // Line of each row: papaparse reports rows, not lines, so count the newlines up to each row's start.
  const rowLines = csvRowLines(text.replace(/^\uFEFF/, ''));
  const badRows = new Map<number, string>();
  for (const e of parsed.errors) if (e.row !== undefined && !badRows.has(e.row)) badRows.set(e.row, e.message);
  for (const [i, row] of parsed.data.entries()) {
    const line = rowLines[i + 1] ?? i + 2;
    const prompt = row[cols.prompt];
    const completion = row[cols.completion];
    const reason =
      badRows.get(i) ??
      (typeof prompt !== 'string'
        ? `no value in column "${cols.prompt}"`
        : typeof completion !== 'string'
          ? `no value in column "${cols.completion}"`
          : !completion.trim()
            ? `column "${cols.completion}" is empty: nothing to learn from`
            : undefined);
    if (reason) out.bad.push({ source, line, reason });
    else out.examples.push({ kind: 'pair', source, line, prompt, completion });
  }
  return out;
}

/** 1-based line numbers where each CSV record starts (record 0 is the header), blank lines skipped. */
function csvRowLines(text: string): number[] {
  const starts: number[] = [];
  let line = 1;
  let quoted = false;
  let atStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (atStart) {
      if (c === '\n' || c === '\r') {
        if (c === '\n') line++;
        continue;
      }
      starts.push(line);
      atStart = false;
    }
    if (c === '"') quoted = !quoted;
    else if (c === '\n') {
      line++;
      if (!quoted) atStart = true;
    }
  }
  return starts;
}

/** A file as examples: CSV by its extension, JSONL otherwise. */
export function parseSupervisedFile(f: SupervisedFile): SupervisedData {
  return /\.csv$/i.test(f.name) ? parseSupervisedCsv(f.text, f.name, f.columns) : parseSupervisedJsonl(f.text, f.name);
}

/** Every file's examples and bad lines together; fails only when no file holds an example. */
export function parseSupervisedFiles(files: SupervisedFile[]): SupervisedData {
  const out: SupervisedData = { examples: [], bad: [] };
  for (const f of files) {
    const r = parseSupervisedFile(f);
    out.examples.push(...r.examples);
    out.bad.push(...r.bad);
  }
  if (files.length && !out.examples.length)
    throw new DatasetError(
      'NO_EXAMPLES',
      `${files.map((f) => f.name).join(', ')} ${files.length === 1 ? 'holds' : 'hold'} no usable example (${out.bad.length} bad line${out.bad.length === 1 ? '' : 's'}${out.bad.length ? `, first: ${describeBadLine(out.bad[0])}` : ''}). Each line must be ${SHAPES}.`,
    );
  return out;
}

export function describeBadLine(b: BadLine): string {
  return `${b.source} line ${b.line}: ${b.reason}`;
}

/** Counts of examples by kind. */
export function countKinds(examples: SupervisedExample[]): { chats: number; pairs: number } {
  let chats = 0;
  for (const e of examples) if (e.kind === 'chat') chats++;
  return { chats, pairs: examples.length - chats };
}
