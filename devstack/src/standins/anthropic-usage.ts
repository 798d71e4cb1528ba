import { createHash, type Hash } from 'node:crypto';
import { type ContentBlock, contentBlocks, type MessagesRequest } from './anthropic-request.ts';

/**
 * Token accounting for the Anthropic stand-in: input tokens estimated as ~4 characters a token, and prompt
 * caching modelled the way the API documents it. The prompt is the sequence tools → system → messages; a
 * `cache_control` block marks the end of a cacheable prefix. A request reads the longest prefix cached before
 * (same model, same content up to that block, not expired) and writes each marked prefix that is long enough
 * (minimum cacheable length, 1024 tokens for Sonnet/Opus) and not already cached. Reads refresh the TTL.
 */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  service_tier: 'standard';
}

export const CHARS_PER_TOKEN = 4;
/** The API looks back this many blocks from a breakpoint for an earlier cache hit. */
const LOOKBACK_BLOCKS = 20;
export const MAX_CACHE_BREAKPOINTS = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

interface PromptBlock {
  key: string;
  tokens: number;
  cacheTtlSeconds?: number;
}

function withoutCacheControl(value: Record<string, unknown>): Record<string, unknown> {
  const { cache_control: _ignored, ...rest } = value;
  return rest;
}

function blockText(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return String(block.text);
    case 'tool_use':
      return `${String(block.name)} ${JSON.stringify(block.input ?? {})}`;
    case 'tool_result':
      return typeof block.content === 'string' ? block.content : JSON.stringify(block.content ?? '');
    default:
      return JSON.stringify(withoutCacheControl(block));
  }
}

function ttlOf(value: Record<string, unknown>): number | undefined {
  const control = value.cache_control as { type?: string; ttl?: string } | undefined;
  if (control?.type !== 'ephemeral') return undefined;
  return control.ttl === '1h' ? 3600 : 300;
}

/** The prompt as the cache sees it, in order. */
export function promptBlocks(request: MessagesRequest): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  for (const tool of request.tools ?? []) {
    const text = JSON.stringify(withoutCacheControl(tool));
    blocks.push({ key: `tool:${text}`, tokens: estimateTokens(text), cacheTtlSeconds: ttlOf(tool) });
  }
  for (const block of contentBlocks(request.system ?? [])) {
    const text = blockText(block);
    blocks.push({ key: `system:${text}`, tokens: estimateTokens(text), cacheTtlSeconds: ttlOf(block) });
  }
  for (const message of request.messages) {
    for (const block of contentBlocks(message.content)) {
      const tokens = block.type === 'image' ? 1500 : estimateTokens(blockText(block));
      blocks.push({
        key: `${message.role}:${JSON.stringify(withoutCacheControl(block))}`,
        tokens,
        cacheTtlSeconds: ttlOf(block),
      });
    }
  }
  // Automatic caching: a top-level cache_control marks the last cacheable block.
  const automatic = ttlOf(request as Record<string, unknown>);
  const last = blocks.at(-1);
  if (automatic !== undefined && last && last.cacheTtlSeconds === undefined) last.cacheTtlSeconds = automatic;
  return blocks;
}

/**
 * Minimum cacheable prefix by model family, per Anthropic's prompt-caching docs (2026): shorter prefixes are
 * silently not cached. Unknown models get 1024.
 */
export function minimumCacheableTokens(model: string): number {
  const table: Array<[RegExp, number]> = [
    [/^claude-(opus|fable|mythos)-5/, 512],
    [/^claude-(opus-4-[56]|haiku-4-5)/, 4096],
    [/^claude-(opus-4-7|3-5-haiku|3-haiku|haiku-3)/, 2048],
  ];
  return table.find(([pattern]) => pattern.test(model))?.[1] ?? 1024;
}

export function countInputTokens(request: MessagesRequest): number {
  return promptBlocks(request).reduce((n, b) => n + b.tokens, 0);
}

export class PromptCache {
  /** prefix hash → expiry (epoch ms) */
  #entries = new Map<string, { expiresAt: number; ttlSeconds: number }>();
  /** Overrides the per-model minimum (tests use a small one to cache short prompts). */
  minCacheableTokens: number | undefined;

  clear(): void {
    this.#entries.clear();
  }

  /** Input-side usage of one request; updates the cache as the API would. */
  account(request: MessagesRequest, now = Date.now()): Omit<Usage, 'output_tokens' | 'service_tier'> {
    const blocks = promptBlocks(request);
    const hashes: string[] = [];
    const cumulative: number[] = [];
    let hash: Hash = createHash('sha256').update(request.model);
    let total = 0;
    for (const block of blocks) {
      hash = hash.copy().update('\u0000').update(block.key);
      hashes.push(hash.copy().digest('hex'));
      total += block.tokens;
      cumulative.push(total);
    }
    const breakpoints = blocks.flatMap((b, i) => (b.cacheTtlSeconds === undefined ? [] : [i]));

    // Longest live prefix within the look-back window of some breakpoint.
    let readUpTo = -1;
    for (const bp of breakpoints) {
      for (let i = bp; i >= 0 && i > bp - LOOKBACK_BLOCKS; i--) {
        const entry = this.#entries.get(hashes[i]!);
        if (entry && entry.expiresAt > now) {
          if (i > readUpTo) readUpTo = i;
          break;
        }
      }
    }
    const read = readUpTo >= 0 ? cumulative[readUpTo]! : 0;
    if (readUpTo >= 0) {
      const entry = this.#entries.get(hashes[readUpTo]!)!;
      entry.expiresAt = now + entry.ttlSeconds * 1000;
    }

    let creation5m = 0;
    let creation1h = 0;
    let accounted = read;
    const minimum = this.minCacheableTokens ?? minimumCacheableTokens(request.model);
    for (const bp of breakpoints) {
      if (bp <= readUpTo || cumulative[bp]! < minimum) continue;
      const ttlSeconds = blocks[bp]!.cacheTtlSeconds!;
      this.#entries.set(hashes[bp]!, { expiresAt: now + ttlSeconds * 1000, ttlSeconds });
      const written = cumulative[bp]! - accounted;
      if (ttlSeconds === 3600) creation1h += written;
      else creation5m += written;
      accounted = cumulative[bp]!;
    }
    const creation = creation5m + creation1h;
    return {
      input_tokens: total - read - creation,
      cache_creation_input_tokens: creation,
      cache_read_input_tokens: read,
      cache_creation: { ephemeral_5m_input_tokens: creation5m, ephemeral_1h_input_tokens: creation1h },
    };
  }
}
