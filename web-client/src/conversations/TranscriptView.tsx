import { useEffect, useRef } from 'react';
import type { TranscriptEntry } from '../call/transcript-store.ts';
import type { StoredMessage } from './conversation-data.ts';

export interface TranscriptLine {
  id: string;
  role: 'user' | 'assistant' | 'system';
  text: string;
  /** Still being spoken / recognised. */
  pending: boolean;
  interrupted: boolean;
  source: 'saved' | 'live';
}

export function linesFromMessages(messages: readonly StoredMessage[]): TranscriptLine[] {
  return messages.map((m) => ({
    id: m.id,
    role: m.role,
    text: m.content,
    pending: false,
    interrupted: m.interrupted,
    source: 'saved',
  }));
}

export function linesFromTranscript(entries: readonly TranscriptEntry[]): TranscriptLine[] {
  return entries.map((e) => ({
    id: `live-${e.id}`,
    role: e.role,
    text: e.text,
    pending: !e.final,
    interrupted: false,
    source: 'live',
  }));
}

const SPEAKER = { user: 'You', assistant: 'Claude', system: 'System' } as const;

/** The conversation as text; the newest line stays scrolled into view. */
export function TranscriptView({
  lines,
  emptyText,
}: {
  lines: readonly TranscriptLine[];
  emptyText: string;
}) {
  const endRef = useRef<HTMLLIElement>(null);
  const count = lines.length;
  const lastText = lines[lines.length - 1]?.text;
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when lines grow or the last line changes
  useEffect(() => {
    endRef.current?.scrollIntoView({ block: 'nearest' });
  }, [count, lastText]);

  if (lines.length === 0) return <p className="muted transcript-empty">{emptyText}</p>;
  return (
    <ol className="transcript" aria-label="Transcript" data-testid="transcript">
      {lines.map((line) => (
        <li
          key={line.id}
          className={`turn turn-${line.role}${line.pending ? ' turn-pending' : ''}`}
          data-role={line.role}
          data-source={line.source}
        >
          <span className="speaker">{SPEAKER[line.role]}</span>
          <p className="turn-text">
            <span className="turn-words">{line.text}</span>
            {line.pending ? <span className="visually-hidden"> (still listening)</span> : null}
            {line.interrupted ? <span className="interrupted"> — interrupted</span> : null}
          </p>
        </li>
      ))}
      <li ref={endRef} aria-hidden="true" className="transcript-end" />
    </ol>
  );
}
