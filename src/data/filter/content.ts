// Facts about a file that depend only on its bytes, so they can be cached by content hash
// and recomputed only for files that changed (after a `git pull`, say).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { BINARY_SNIFF_BYTES, GENERATED_HEAD, GENERATED_HEAD_LINES } from './rules.ts';
import { shebangInterpreter } from './languages.ts';
import { minhashSignature } from './minhash.ts';
import { findSecret } from './secrets.ts';

export interface ContentFacts {
  sha: string;
  /** Why the bytes are not text (NUL byte, invalid UTF-8), or null. */
  binary: string | null;
  lines: number;
  maxLine: number;
  avgLine: number;
  /** Digits over non-whitespace characters. */
  digitsRatio: number;
  /** The generated-code marker found in the head, or null. */
  generatedHead: string | null;
  /** The `#!` interpreter, or null. */
  interpreter: string | null;
  /** MinHash over token shingles (null when binary or too short to compare). */
  minhash: Uint32Array | null;
  /** The first secret found (which kind, which rule, which line; never the secret), or null. */
  secret: string | null;
}

export function contentHash(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

const fatal = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

/** Why these bytes are not text, judged on their first 8 KiB; null when they are text. */
export function binaryReason(bytes: Uint8Array): string | null {
  const head = bytes.subarray(0, BINARY_SNIFF_BYTES);
  const nul = head.indexOf(0);
  if (nul >= 0) return `NUL byte at offset ${nul}`;
  try {
    // stream: a multi-byte character cut at the 8 KiB boundary is not an error.
    fatal.decode(head, { stream: head.length < bytes.length });
    fatal.decode();
  } catch {
    return `invalid UTF-8 in the first ${Math.min(bytes.length, BINARY_SNIFF_BYTES)} bytes`;
  }
  return null;
}

export function decodeText(bytes: Uint8Array): string {
  return lenient.decode(bytes);
}

export function analyseContent(bytes: Uint8Array, sha = contentHash(bytes)): ContentFacts {
  const binary = binaryReason(bytes);
  if (binary) {
    return {
      sha,
      binary,
      lines: 0,
      maxLine: 0,
      avgLine: 0,
      digitsRatio: 0,
      generatedHead: null,
      interpreter: null,
      minhash: null,
      secret: null,
    };
  }
  const text = decodeText(bytes);
  let lines = 0;
  let maxLine = 0;
  let lineStart = 0;
  let digits = 0;
  let nonSpace = 0;
  let headEnd = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lines++;
      if (i - lineStart > maxLine) maxLine = i - lineStart;
      lineStart = i + 1;
      if (lines === GENERATED_HEAD_LINES) headEnd = i;
    } else if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
      // whitespace
    } else {
      nonSpace++;
      if (c >= 48 && c <= 57) digits++;
    }
  }
  if (lineStart < text.length) {
    lines++;
    if (text.length - lineStart > maxLine) maxLine = text.length - lineStart;
  }
  const head = text.slice(0, headEnd >= 0 ? headEnd : Math.min(text.length, 2000)).slice(0, 2000);
  const marker = GENERATED_HEAD.exec(head);
  const firstLine = text.slice(0, Math.min(text.indexOf('\n') >>> 0, 200));
  return {
    sha,
    binary: null,
    lines,
    maxLine,
    avgLine: lines ? (text.length - (lines - 1)) / lines : 0,
    digitsRatio: nonSpace ? digits / nonSpace : 0,
    generatedHead: marker ? marker[0] : null,
    interpreter: text.startsWith('#!') ? shebangInterpreter(firstLine) : null,
    minhash: minhashSignature(text),
    secret: findSecret(text),
  };
}
