// A small byte-level BPE tokenizer in the Hugging Face tokenizer.json format, built
// deterministically from a code sample, with the special tokens of a Qwen-style coder
// (EOS, FIM). It keeps fixture models small while exercising the real tokenizer path.

/** GPT-2's byte → printable-character mapping used by byte-level BPE. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

const SAMPLE = `def main():
    for i in range(10):
        print("hello world", i)
    return None

function add(a, b) {
  const result = a + b;
  return result;
}

class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y
`;

export const TINY_SPECIAL_TOKENS = ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<s>'];

/** Pre-tokenization like Qwen's: words with their leading space, digits, punctuation runs, newlines. */
const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

export function makeTinyTokenizer(merges = 56, bosForLlama = false): { tokenizerJson: object; tokenizerConfig: object; vocabSize: number } {
  const byteChars = bytesToUnicode();
  const enc = new TextEncoder();
  const words = (SAMPLE.match(SPLIT) ?? []).map((w) => [...enc.encode(w)].map((b) => byteChars[b]));
  const vocab: Record<string, number> = {};
  byteChars.forEach((c, i) => (vocab[c] = i));
  const mergeList: string[] = [];
  for (let m = 0; m < merges; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]} ${w[i + 1]}`, (counts.get(`${w[i]} ${w[i + 1]}`) ?? 0) + 1);
    let best = '';
    let bestN = 1;
    // Deterministic: highest count, then lexicographically smallest pair.
    for (const [pair, n] of counts) if (n > bestN || (n === bestN && best && pair < best)) [best, bestN] = [pair, n];
    if (!best) break;
    const [a, b] = best.split(' ');
    mergeList.push(best);
    vocab[a + b] = Object.keys(vocab).length;
    for (const w of words)
      for (let i = 0; i + 1 < w.length; i++)
        if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
  }
  const base = Object.keys(vocab).length;
  const added = TINY_SPECIAL_TOKENS.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const vocabSize = Math.ceil((base + added.length) / 8) * 8;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: mergeList },
  };
  const tokenizerConfig = {
    tokenizer_class: 'Qwen2Tokenizer',
    add_bos_token: bosForLlama,
    bos_token: bosForLlama ? '<s>' : null,
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    model_max_length: 32768,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizerJson, tokenizerConfig, vocabSize };
}
