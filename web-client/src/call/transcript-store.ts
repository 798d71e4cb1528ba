/**
 * Builds the live transcript from LiveKit transcription text streams (topic `lk.transcription`), independent of the
 * browser so it is unit-testable. Two shapes arrive (LiveKit Agents 1.x):
 * - the user's speech: each STT update is a separate short stream carrying the full text so far, all sharing one
 *   `lk.segment_id`; the last carries `lk.transcription_final: "true"`;
 * - the agent's speech: one stream per reply whose chunks are deltas, closed when the reply is done (or cut off).
 * Unlike @livekit/components' useTranscriptions, entries survive the room's disconnect, so the transcript stays
 * on screen after the call.
 */

export type TranscriptRole = 'user' | 'assistant';

export interface TranscriptEntry {
  /** Segment id (or stream id when the sender gave none). */
  id: string;
  role: TranscriptRole;
  text: string;
  /** True once the text will not change any more. */
  final: boolean;
  /** When the segment was first seen (sender's stream timestamp, epoch ms). */
  startedAt: number;
}

export interface TranscriptStreamInfo {
  streamId: string;
  senderIdentity: string;
  timestamp: number;
  attributes?: Record<string, string>;
}

interface SegmentState {
  entry: TranscriptEntry;
  latestStreamId: string;
}

interface StreamState {
  segmentId: string;
  text: string;
  finalAttribute: boolean;
}

const SEGMENT_ID = 'lk.segment_id';
const TRANSCRIPTION_FINAL = 'lk.transcription_final';

export class TranscriptStore {
  private readonly segments = new Map<string, SegmentState>();
  private readonly streams = new Map<string, StreamState>();
  private readonly listeners = new Set<() => void>();
  private snapshot: readonly TranscriptEntry[] = [];
  private readonly finalListeners = new Set<(entry: TranscriptEntry) => void>();

  /** `roleOf` decides whose words a stream carries (the agent publishes the user's transcript on their behalf). */
  constructor(private readonly roleOf: (info: TranscriptStreamInfo) => TranscriptRole) {}

  /** A new stream began (before any chunk). */
  open(info: TranscriptStreamInfo): void {
    const segmentId = info.attributes?.[SEGMENT_ID] || info.streamId;
    this.streams.set(info.streamId, {
      segmentId,
      text: '',
      finalAttribute: info.attributes?.[TRANSCRIPTION_FINAL] === 'true',
    });
    const existing = this.segments.get(segmentId);
    if (existing) {
      existing.latestStreamId = info.streamId;
      return;
    }
    const role = this.roleOf(info);
    this.segments.set(segmentId, {
      latestStreamId: info.streamId,
      entry: { id: segmentId, role, text: '', final: false, startedAt: info.timestamp },
    });
  }

  append(streamId: string, chunk: string): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    stream.text += chunk;
    const segment = this.segments.get(stream.segmentId);
    // A late chunk from a superseded STT update must not overwrite the newer text.
    if (!segment || segment.latestStreamId !== streamId || segment.entry.final) return;
    segment.entry = { ...segment.entry, text: stream.text };
    this.changed();
  }

  close(streamId: string): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    this.streams.delete(streamId);
    const segment = this.segments.get(stream.segmentId);
    if (!segment || segment.latestStreamId !== streamId || segment.entry.final) return;
    // User updates are complete only when marked final; an agent reply is complete when its stream closes.
    const final = stream.finalAttribute || segment.entry.role === 'assistant';
    segment.entry = { ...segment.entry, text: stream.text, final };
    if (final) for (const listener of this.finalListeners) listener(segment.entry);
    this.changed();
  }

  /** The call is over: whatever is on screen is what was said. */
  finalizeAll(): void {
    let touched = false;
    for (const segment of this.segments.values()) {
      if (!segment.entry.final) {
        segment.entry = { ...segment.entry, final: true };
        touched = true;
      }
    }
    this.streams.clear();
    if (touched) this.changed();
  }

  /** Stable snapshot (a new array only after a change), for React's useSyncExternalStore. */
  entries = (): readonly TranscriptEntry[] => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  onFinal(listener: (entry: TranscriptEntry) => void): () => void {
    this.finalListeners.add(listener);
    return () => this.finalListeners.delete(listener);
  }

  private changed(): void {
    this.snapshot = [...this.segments.values()]
      .map((segment) => segment.entry)
      .filter((entry) => entry.text.trim().length > 0)
      .sort((a, b) => a.startedAt - b.startedAt);
    for (const listener of this.listeners) listener();
  }
}
