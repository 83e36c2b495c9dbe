// Typed errors for model files: each names the file (and tensor) and says what to do.
export type ModelErrorCode =
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'BAD_CONFIG'
  | 'MISSING_FILE'
  | 'BAD_HEADER'
  | 'TRUNCATED_FILE'
  | 'UNKNOWN_DTYPE'
  | 'MISSING_TENSOR'
  | 'BAD_SHAPE'
  | 'BAD_ADAPTER'
  | 'UNSAFE_PATH'
  | 'BAD_WEIGHTS'
  | 'TOKENIZER_MISMATCH'
  | 'CONTEXT_TOO_LONG';

export class ModelError extends Error {
  readonly code: ModelErrorCode;
  readonly file?: string;
  readonly tensor?: string;
  constructor(code: ModelErrorCode, message: string, where: { file?: string; tensor?: string } = {}) {
    super(message);
    this.name = 'ModelError';
    this.code = code;
    this.file = where.file;
    this.tensor = where.tensor;
  }
}
