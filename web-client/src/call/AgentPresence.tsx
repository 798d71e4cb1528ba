import { BarVisualizer, useVoiceAssistant } from '@livekit/components-react';
import type { RemoteAudioTrack } from 'livekit-client';
import type { CallState } from './call-state.ts';
import { useReceivedAudioLevel } from './use-received-audio-level.ts';

/**
 * The agent's audio visualizer (LiveKit's BarVisualizer animates per agent state) and a measurement of the audio
 * that actually arrived, exposed as data attributes for the browser test and as a small meter for people.
 */
export function AgentPresence({ state }: { state: CallState }) {
  const assistant = useVoiceAssistant();
  const track = assistant.audioTrack?.publication.track as RemoteAudioTrack | undefined;
  const stats = useReceivedAudioLevel(track);
  const visualState = state.phase === 'in-call' ? (state.agentActivity ?? 'initializing') : 'connecting';

  return (
    <div
      className="agent-presence"
      data-testid="agent-audio"
      data-agent-audio-peak={stats.peak.toFixed(3)}
      data-agent-audio-audible-ms={stats.audibleMs}
      data-agent-audio-track={track ? 'subscribed' : 'none'}
    >
      <BarVisualizer
        className="visualizer"
        state={visualState}
        barCount={7}
        options={{ minHeight: 12, maxHeight: 100 }}
        {...(assistant.audioTrack ? { trackRef: assistant.audioTrack } : {})}
        aria-hidden="true"
      />
    </div>
  );
}
