// Messages between the bridge and the app tab over the tab's WebSocket (JSON).
import type { CompletionRequest, CompletionResult, ServingInfo } from './types.ts';

export const TAB_SOCKET_PATH = '/bridge/tab';

export type BridgeToTab = { type: 'complete'; id: number; request: CompletionRequest } | { type: 'cancel'; id: number };

export type TabToBridge =
  | { type: 'serving'; info: ServingInfo | null }
  | { type: 'text'; id: number; delta: string }
  | { type: 'done'; id: number; result: CompletionResult }
  | { type: 'error'; id: number; message: string };
