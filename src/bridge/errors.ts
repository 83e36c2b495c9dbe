// Typed errors of the bridge's own setup (listening, options): a stable code and a message
// that says what to do.
export type BridgeErrorCode = 'BRIDGE_NEEDS_API_KEY' | 'BRIDGE_NO_RUNTIME_FILE' | 'BRIDGE_BAD_OPTION';

export class BridgeError extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}
