// What a page shows for a failure: the message, the hint under it, and the code the page
// (and its tests, through data-code) act on. Worker errors arrive as their own classes.
import { HomecoderError } from '../../errors.ts';

export interface ShownError {
  message: string;
  hint: string;
  /** The typed error's code; '' for a plain Error (a bug). */
  code: string;
  /** The error's class name. */
  kind: string;
}

export function shownError(err: unknown, hint?: string): ShownError {
  if (err instanceof HomecoderError) {
    const h = hint ?? err.hint;
    return { message: err.message, hint: err.message.includes(h) ? '' : h, code: err.code, kind: err.name };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, hint: hint ?? '', code: '', kind: e.name };
}

/** A page's own note (a cancellation, a missing choice) shown like an error. */
export function note(message: string, hint = ''): ShownError {
  return { message, hint, code: '', kind: '' };
}
