// Reading a model repository from a Hugging Face hub (or a mirror with the same
// layout: {endpoint}/{repo}/resolve/{revision}/{file}). The token, when given, goes only
// to that endpoint.
import { HomecoderError, registerError } from '../../errors.ts';
import { parseConfig } from '../config.ts';
import { checkShardName } from '../loader.ts';
import { ModelError } from '../errors.ts';
import type { ModelConfig } from '../types.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  endpoint?: string;
  revision?: string;
  token?: string;
  fetch?: typeof fetch;
}

export interface RemoteFile {
  name: string;
  /** Required: config, tokenizer, weights. Optional files are skipped when missing. */
  required: boolean;
}

export type HubErrorCode = 'NOT_FOUND' | 'GATED' | 'HTTP' | 'NETWORK';

export class HubError extends HomecoderError<HubErrorCode, { status?: number }> {
  constructor(code: HubErrorCode, message: string, status?: number) {
    super(code, message, { data: status === undefined ? {} : { status } });
    this.name = 'HubError';
  }
  /** The hub's HTTP status, when it answered. */
  get status(): number | undefined {
    return this.data.status;
  }
}
registerError('HubError', HubError);

export class Hub {
  readonly endpoint: string;
  readonly revision: string;
  private token?: string;
  private fetchFn: typeof fetch;

  constructor(
    readonly repo: string,
    opts: HubOptions = {},
  ) {
    if (!/^[\w.-]+\/[\w.-]+$/.test(repo))
      throw new HubError('NOT_FOUND', `"${repo}" is not a repository id; write it as owner/name, e.g. Qwen/Qwen2.5-Coder-0.5B.`);
    this.endpoint = (opts.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
    this.revision = opts.revision ?? 'main';
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? ((...a) => fetch(...a));
  }

  url(file: string): string {
    return `${this.endpoint}/${this.repo}/resolve/${encodeURIComponent(this.revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** GET (optionally from a byte offset); 404 of an optional file gives undefined. */
  async get(file: string, opts: { from?: number; optional?: boolean; signal?: AbortSignal } = {}): Promise<Response | undefined> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (opts.from) headers.range = `bytes=${opts.from}-`;
    let res: Response;
    try {
      res = await this.fetchFn(this.url(file), { headers, signal: opts.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new HubError(
        'NETWORK',
        `Could not reach ${this.endpoint} for ${this.repo}/${file}: ${(err as Error).message}. Check the connection or the hub endpoint setting.`,
      );
    }
    if (res.ok) return res;
    if (res.status === 416 && opts.from) return res; // asked past the end: the caller checks sizes
    if (res.status === 404 && opts.optional) return undefined;
    if (res.status === 401 || res.status === 403) {
      throw new HubError(
        'GATED',
        `${this.repo} needs access: ${this.token ? 'the token was refused' : 'it is gated or private'} (HTTP ${res.status}). ` +
          'Accept its licence on the hub and paste an access token (it stays in this browser).',
        res.status,
      );
    }
    if (res.status === 404)
      throw new HubError(
        'NOT_FOUND',
        `${this.repo} has no ${file} at revision ${this.revision} (HTTP 404). Check the repository id and revision.`,
        404,
      );
    throw new HubError('HTTP', `${this.endpoint} answered HTTP ${res.status} for ${this.repo}/${file}. Try again later.`, res.status);
  }

  async json<T>(file: string, optional = false): Promise<T | undefined> {
    const res = await this.get(file, { optional });
    if (!res) return undefined;
    try {
      return (await res.json()) as T;
    } catch {
      throw new ModelError('BAD_CONFIG', `${this.repo}/${file} is not valid JSON.`, { file });
    }
  }

  /**
   * Reads config.json (refusing unsupported architectures before any weight is fetched)
   * and works out which files to download.
   */
  async plan(): Promise<{ config: ModelConfig; rawConfig: unknown; files: RemoteFile[] }> {
    const rawConfig = await this.json<unknown>('config.json');
    const config = parseConfig(rawConfig, `${this.repo}/config.json`);
    const files: RemoteFile[] = [
      { name: 'config.json', required: true },
      { name: 'generation_config.json', required: false },
      { name: 'tokenizer.json', required: true },
      { name: 'tokenizer_config.json', required: true },
    ];
    const index = await this.json<{ weight_map?: Record<string, string> }>('model.safetensors.index.json', true);
    if (index?.weight_map) {
      files.push({ name: 'model.safetensors.index.json', required: true });
      for (const shard of new Set(Object.values(index.weight_map).map(checkShardName))) files.push({ name: shard, required: true });
    } else {
      files.push({ name: 'model.safetensors', required: true });
    }
    return { config, rawConfig, files };
  }
}

/** The sha256 the hub publishes for LFS files (X-Linked-Etag or ETag), if it looks like one. */
export function publishedSha256(res: Response): string | undefined {
  for (const h of ['x-linked-etag', 'etag']) {
    const v = res.headers.get(h)?.replace(/^W\//, '').replace(/"/g, '');
    if (v && /^[0-9a-f]{64}$/.test(v)) return v;
  }
  return undefined;
}

/** Total size of the file a response is (part of): Content-Range's total, else Content-Length. */
export function totalSize(res: Response, from: number): number | undefined {
  const range = res.headers.get('content-range');
  const m = range && /\/(\d+)$/.exec(range);
  if (m) return Number(m[1]);
  const len = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
  if (len === null) return undefined;
  return res.status === 206 ? from + Number(len) : Number(len);
}
