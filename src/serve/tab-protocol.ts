// Messages between the bridge and the app tab over the tab's WebSocket (JSON), and their
// checks: each side parses what arrives with `parse…`, which names what is wrong instead of
// letting a malformed message (`null`, `done` without a result…) crash the receiver.
import type { CompletionRequest, CompletionResult, FinishReason, ServingInfo } from './types.ts';
import { chatMessagesProblem } from './chat.ts';
import { ADAPTER_NAME } from './model-names.ts';

export const TAB_SOCKET_PATH = '/bridge/tab';

// A tab on another origin paired with the bridge (src/bridge/pairing.ts) shows its secret in
// this header on HTTP requests, and on the socket as a second subprotocol after TAB_PROTOCOL.
export const PAIR_HEADER = 'x-homecoder-tab';
export const TAB_PROTOCOL = 'homecoder-tab';
export const SECRET_PROTOCOL_PREFIX = 'homecoder-secret.';
/** Where the tab trades the one-time code for its secret, and revokes its pairing. */
export const PAIR_PATH = '/bridge/pair';
export const UNPAIR_PATH = '/bridge/unpair';

export type BridgeToTab = { type: 'complete'; id: number; request: CompletionRequest } | { type: 'cancel'; id: number };

export type TabToBridge =
  | { type: 'serving'; info: ServingInfo | null }
  | { type: 'text'; id: number; delta: string }
  | { type: 'done'; id: number; result: CompletionResult }
  | { type: 'error'; id: number; message: string; code?: string };

/** A parsed message, or why it is not one. */
export type Parsed<T> = { ok: true; msg: T } | { ok: false; reason: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isCount = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const FINISH: FinishReason[] = ['stop', 'length', 'deadline', 'cancelled'];

function servingOk(v: unknown): boolean {
  if (v === null) return true;
  if (!isObj(v)) return false;
  return (
    typeof v.model === 'string' &&
    typeof v.base === 'string' &&
    Array.isArray(v.adapters) &&
    v.adapters.every((a) => isObj(a) && typeof a.name === 'string' && typeof a.weight === 'number') &&
    (v.fim === undefined || typeof v.fim === 'string') &&
    isCount(v.contextLength) &&
    isCount(v.parameters) &&
    (v.named === undefined || (Array.isArray(v.named) && v.named.every((n) => typeof n === 'string' && ADAPTER_NAME.test(n)))) &&
    (v.chat === undefined || typeof v.chat === 'boolean')
  );
}

function resultOk(v: unknown): boolean {
  return (
    isObj(v) &&
    typeof v.text === 'string' &&
    FINISH.includes(v.finishReason as FinishReason) &&
    ['promptTokens', 'completionTokens', 'reusedTokens', 'prefillMs', 'decodeMs'].every((k) => isCount(v[k])) &&
    typeof v.truncated === 'boolean'
  );
}

function requestOk(v: unknown): boolean {
  if (!isObj(v)) return false;
  const optStr = (k: string) => v[k] === undefined || typeof v[k] === 'string';
  return (
    optStr('prompt') &&
    optStr('prefix') &&
    optStr('suffix') &&
    optStr('filename') &&
    (v.extraBudget === undefined || isCount(v.extraBudget)) &&
    (v.extra === undefined || (Array.isArray(v.extra) && v.extra.every((e) => isObj(e) && typeof e.text === 'string'))) &&
    ['maxTokens', 'temperature', 'topP', 'topK'].every((k) => isCount(v[k])) &&
    Array.isArray(v.stop) &&
    v.stop.every((s) => typeof s === 'string') &&
    (v.deadlineMs === undefined || isCount(v.deadlineMs)) &&
    (v.seed === undefined || typeof v.seed === 'number') &&
    (v.messages === undefined || chatMessagesProblem(v.messages) === undefined) &&
    (v.adapter === undefined || (typeof v.adapter === 'string' && ADAPTER_NAME.test(v.adapter))) &&
    (v.repetitionPenalty === undefined || (typeof v.repetitionPenalty === 'number' && v.repetitionPenalty > 0))
  );
}

function parseJson(text: string): Parsed<Obj> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  return isObj(v) ? { ok: true, msg: v } : { ok: false, reason: 'not a JSON object' };
}

/** Checks a message from the tab (on the bridge). */
export function parseTabToBridge(text: string): Parsed<TabToBridge> {
  const p = parseJson(text);
  if (!p.ok) return p;
  const m = p.msg;
  const bad = (what: string): Parsed<TabToBridge> => ({ ok: false, reason: `"${String(m.type)}" message ${what}` });
  switch (m.type) {
    case 'serving':
      return servingOk(m.info) ? { ok: true, msg: m as TabToBridge } : bad('with a malformed info');
    case 'text':
      return isId(m.id) && typeof m.delta === 'string' ? { ok: true, msg: m as TabToBridge } : bad('needs id and delta');
    case 'done':
      return isId(m.id) && resultOk(m.result) ? { ok: true, msg: m as TabToBridge } : bad('needs id and a complete result');
    case 'error':
      return isId(m.id) &&
        typeof m.message === 'string' &&
        (m.code === undefined || (typeof m.code === 'string' && /^[A-Z_]{1,40}$/.test(m.code)))
        ? { ok: true, msg: m as TabToBridge }
        : bad('needs id and message (and a code of capitals, if any)');
    default:
      return { ok: false, reason: 'unknown message type' };
  }
}

/** Checks a message from the bridge (in the tab). */
export function parseBridgeToTab(text: string): Parsed<BridgeToTab> {
  const p = parseJson(text);
  if (!p.ok) return p;
  const m = p.msg;
  if (m.type === 'cancel' && isId(m.id)) return { ok: true, msg: m as BridgeToTab };
  if (m.type === 'complete' && isId(m.id) && requestOk(m.request)) return { ok: true, msg: m as BridgeToTab };
  return { ok: false, reason: `malformed "${String(m.type)}" message` };
}
