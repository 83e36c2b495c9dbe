// Typed errors a user can meet while adding sources or filtering. Each says what happened
// and what to do; `code` is stable so the UI, the CLI and tests can branch on it.
import { HomecoderError, registerError } from '../errors.ts';

export type SourceErrorCode =
  | 'ARCHIVE_CORRUPT'
  | 'ARCHIVE_UNSUPPORTED'
  | 'ARCHIVE_TOO_LARGE'
  | 'ARCHIVE_BOMB'
  | 'ARCHIVE_UNSAFE_ENTRY'
  | 'GIT_URL_INVALID'
  | 'GIT_AUTH'
  | 'GIT_NOT_FOUND'
  | 'GIT_FAILED'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_EMPTY'
  | 'PATH_NOT_FOUND'
  | 'SOURCE_NOT_REGULAR'
  | 'SOURCE_TOO_LARGE'
  | 'GIT_PACK_TOO_LARGE'
  | 'GIT_NEEDS_BRIDGE'
  | 'SOURCE_EXISTS';

export class SourceError extends HomecoderError<SourceErrorCode> {
  constructor(code: SourceErrorCode, message: string, options?: { cause?: unknown; hint?: string; data?: object }) {
    super(code, message, options);
    this.name = 'SourceError';
  }
}
registerError('SourceError', SourceError);

export type DatasetErrorCode =
  | 'TOO_FEW_FILES'
  | 'NO_TRAIN_FILES'
  | 'NO_TOKENS'
  | 'BAD_DATASET'
  // Supervised data: no usable line, CSV columns not found, the model's template missing or unusable.
  | 'NO_EXAMPLES'
  | 'BAD_CSV_COLUMNS'
  | 'NO_CHAT_TEMPLATE'
  | 'BAD_CHAT_TEMPLATE'
  | 'CHAT_TEMPLATE_NOT_INCREMENTAL';

/** The training data cannot be built from the accepted files (too few, no tokens, bad chat lines). */
export class DatasetError extends HomecoderError<DatasetErrorCode> {
  constructor(code: DatasetErrorCode, message: string) {
    super(code, message);
    this.name = 'DatasetError';
  }
}
registerError('DatasetError', DatasetError);
