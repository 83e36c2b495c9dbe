// How a commit of the history is laid out as training tokens. Families with StarCoder's
// commit tokens get `<commit_before>old<commit_msg>message<commit_after>new`; the others
// (Qwen2.5-Coder among them) the plain commit format (filter/commits.ts: the message, then
// `git diff` of each file) as left-to-right text. Sentinels are not trained on; the rest is.
import type { EncodedDocument, DocTokenizer, Segment } from './fim.ts';

export interface CommitSides {
  message: string;
  /** For each changed file: its path, then the old side of each hunk (context and removed lines). */
  before: string;
  /** The same with the new side (context and added lines). */
  after: string;
}

/** The message and each file's two sides, read back from the plain commit format. */
export function commitSides(text: string): CommitSides {
  const at = text.indexOf('\n\ndiff --git ');
  const message = at < 0 ? text.trim() : text.slice(0, at);
  let before = '';
  let after = '';
  for (const line of at < 0 ? [] : text.slice(at + 2).split('\n')) {
    const file = /^diff --git a\/(.*) b\//.exec(line);
    if (file) {
      before += `${file[1]}\n`;
      after += `${file[1]}\n`;
    } else if (line.startsWith(' ')) {
      before += `${line.slice(1)}\n`;
      after += `${line.slice(1)}\n`;
    } else if (line.startsWith('-') && !line.startsWith('--- ')) before += `${line.slice(1)}\n`;
    else if (line.startsWith('+') && !line.startsWith('+++ ')) after += `${line.slice(1)}\n`;
    // `---`/`+++` headers, `@@` hunk headers and "\ No newline" notes carry no code.
  }
  return { message, before, after };
}

/** One commit as training tokens in the family's commit format, with EOS. */
export function encodeCommit(tok: DocTokenizer, text: string): EncodedDocument {
  const head: Segment[] = tok.addBos && tok.bos !== undefined ? [{ ids: [tok.bos], train: false }] : [];
  const tail: Segment[] = tok.eos !== undefined ? [{ ids: [tok.eos], train: true }] : [];
  const enc = (s: string): Segment => ({ ids: s ? tok.encode(s, { bos: false }) : [], train: true });
  const c = tok.commit;
  if (!c) return { segments: [...head, enc(text), ...tail], kind: 'plain' };
  const s = commitSides(text);
  const sentinel = (id: number): Segment => ({ ids: [id], train: false });
  return {
    segments: [...head, sentinel(c.before), enc(s.before), sentinel(c.msg), enc(s.message), sentinel(c.after), enc(s.after), ...tail],
    kind: 'plain',
  };
}
