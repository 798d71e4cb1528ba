import { describe, expect, it } from 'vitest';
import { TranscriptStore, type TranscriptStreamInfo } from '../../src/call/transcript-store.ts';

const LOCAL = 'user-1';
const AGENT = 'agent-1';

function store() {
  return new TranscriptStore((info: TranscriptStreamInfo) =>
    info.senderIdentity === LOCAL ? 'user' : 'assistant',
  );
}

/** The user's STT as LiveKit Agents publishes it: one short stream per update, all with one segment id. */
function userUpdate(
  s: TranscriptStore,
  streamId: string,
  segment: string,
  text: string,
  final: boolean,
  at: number,
) {
  s.open({
    streamId,
    senderIdentity: LOCAL,
    timestamp: at,
    attributes: { 'lk.segment_id': segment, 'lk.transcription_final': String(final) },
  });
  s.append(streamId, text);
  s.close(streamId);
}

describe('TranscriptStore', () => {
  it('replaces interim user text by later updates of the same segment and marks it final', () => {
    const s = store();
    userUpdate(s, 'st1', 'SG_a', 'what is', false, 1);
    expect(s.entries()).toEqual([{ id: 'SG_a', role: 'user', text: 'what is', final: false, startedAt: 1 }]);
    userUpdate(s, 'st2', 'SG_a', 'what is the weather', false, 2);
    userUpdate(s, 'st3', 'SG_a', 'What is the weather like?', true, 3);
    expect(s.entries()).toEqual([
      { id: 'SG_a', role: 'user', text: 'What is the weather like?', final: true, startedAt: 1 },
    ]);
  });

  it('accumulates the agent reply from delta chunks and finalizes it when the stream closes', () => {
    const s = store();
    s.open({ streamId: 'a1', senderIdentity: AGENT, timestamp: 10, attributes: { 'lk.segment_id': 'SG_b' } });
    s.append('a1', 'It is ');
    s.append('a1', 'sunny.');
    expect(s.entries()[0]).toMatchObject({ role: 'assistant', text: 'It is sunny.', final: false });
    s.close('a1');
    expect(s.entries()[0]).toMatchObject({ final: true });
  });

  it('orders turns by when they began, hides empty ones, and ignores late chunks of a superseded update', () => {
    const s = store();
    s.open({
      streamId: 'a1',
      senderIdentity: AGENT,
      timestamp: 5,
      attributes: { 'lk.segment_id': 'SG_greet' },
    });
    s.append('a1', 'Hi!');
    s.close('a1');
    s.open({ streamId: 'u1', senderIdentity: LOCAL, timestamp: 8, attributes: { 'lk.segment_id': 'SG_u' } });
    s.open({ streamId: 'u2', senderIdentity: LOCAL, timestamp: 9, attributes: { 'lk.segment_id': 'SG_u' } });
    s.append('u2', 'hello there');
    s.append('u1', 'hel'); // late chunk of the older update
    s.open({ streamId: 'e', senderIdentity: AGENT, timestamp: 7 }); // opened, never any text
    expect(s.entries().map((e) => [e.role, e.text])).toEqual([
      ['assistant', 'Hi!'],
      ['user', 'hello there'],
    ]);
  });

  it('finalizeAll keeps everything said when the call ends, and notifies subscribers', () => {
    const s = store();
    let notified = 0;
    s.subscribe(() => notified++);
    const finals: string[] = [];
    s.onFinal((e) => finals.push(e.text));
    userUpdate(s, 'u1', 'SG_1', 'and one more', false, 1);
    s.finalizeAll();
    expect(s.entries()[0]?.final).toBe(true);
    expect(notified).toBeGreaterThanOrEqual(2);
    userUpdate(s, 'u2', 'SG_2', 'done', true, 2);
    expect(finals).toEqual(['done']);
  });

  it('keeps a stable snapshot between changes (for useSyncExternalStore)', () => {
    const s = store();
    userUpdate(s, 'u1', 'SG_1', 'hi', true, 1);
    expect(s.entries()).toBe(s.entries());
  });
});
