// What a completion backend (the app tab, or `homecoder serve`) is asked and answers.
// The bridge turns every editor protocol into a CompletionRequest and the answers back
// into that protocol's shape. Plain data: it crosses the tab's WebSocket as JSON.
import type { ExtraContext } from './fim.ts';
import type { AddedContext } from './repo-context.ts';
import type { FinishReason } from './generate.ts';
import type { ChatMessage } from './chat.ts';

export type { FinishReason };

export interface CompletionRequest {
  /** Plain or raw prompt (may already carry a family's FIM tokens). */
  prompt?: string;
  /** A conversation, rendered with the model's chat template (instead of a prompt). */
  messages?: ChatMessage[];
  /** A named adapter to serve this request with (model `homecoder:<name>`); absent = the default. */
  adapter?: string;
  /** Server-side fill-in-the-middle: text before and after the cursor. */
  prefix?: string;
  suffix?: string;
  extra?: ExtraContext[];
  /** Tokens server-added context may take first (src/serve/repo-context.ts sets it). */
  extraBudget?: number;
  /** The file being edited, when the editor says (Tabby's segments.filepath): left out of repository context. */
  filename?: string;
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = off. */
  topK: number;
  /** > 1 penalizes the last 64 context tokens (llama.cpp/Ollama repeat_penalty, TGI repetition_penalty); absent = 1 = off. */
  repetitionPenalty?: number;
  stop: string[];
  /**
   * Stop generating this many ms after the first token, as soon as the text holds a newline
   * (llama.cpp's t_max_predict_ms: a line is never cut in the middle).
   */
  deadlineMs?: number;
  seed?: number;
}

export interface CompletionResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV cache was reused from the previous request. */
  reusedTokens: number;
  /** The prompt did not fit the context; text far from the cursor was dropped. */
  truncated: boolean;
  prefillMs: number;
  decodeMs: number;
  /** Repository context the server added (absent when off, or the request had its own). */
  context?: AddedContext;
}

/** What is serving: shown to editors (/v1/models, /api/tags, /api/show) and in the app. */
export interface ServingInfo {
  /** Model name editors see. */
  model: string;
  /** Where the base model came from (a hub id or folder). */
  base: string;
  /** Adapters applied and their weights; empty = the base model. */
  adapters: Array<{ name: string; weight: number }>;
  fim?: string;
  contextLength: number;
  parameters: number;
  /** Adapters a request can pick by name (model `homecoder:<name>`), besides the default. */
  named?: string[];
  /** Whether the model has a chat template (chat routes need one). */
  chat?: boolean;
}

export const DEFAULT_REQUEST: Omit<CompletionRequest, 'prompt' | 'prefix' | 'suffix'> = {
  maxTokens: 128,
  temperature: 0,
  topP: 1,
  topK: 0,
  stop: [],
};

// What GET /bridge/status answers (the Use page's connection panel): the relay's queue, the
// editors seen and a short request log, no prompt text.
export interface LogEntry {
  time: string;
  client: string;
  route: string;
  status: 'ok' | 'cancelled' | 'error';
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  firstTokenMs?: number;
  finishReason?: string;
  error?: string;
}

export interface RelayStats {
  backend: { kind: 'tab' | 'headless'; serving?: ServingInfo } | undefined;
  queued: number;
  running: number;
  /** What the backend reports as in flight (a leak shows here). */
  backendActive: number;
  editors: Array<{ client: string; route: string; lastSeen: string; requests: number }>;
  log: LogEntry[];
}
