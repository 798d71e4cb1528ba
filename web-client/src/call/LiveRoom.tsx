import { RoomAudioRenderer, RoomContext, StartAudio } from '@livekit/components-react';
import type { Room } from 'livekit-client';
import { AgentPresence } from './AgentPresence.tsx';
import type { CallState } from './call-state.ts';

/**
 * The parts of the call screen that need LiveKit's React components: the agent's visualizer, its audio, and the
 * "tap to hear" button for browsers that block autoplay. Loaded on demand (its own chunk), like the controller.
 */
export default function LiveRoom({ room, state }: { room: Room; state: CallState }) {
  return (
    <RoomContext.Provider value={room}>
      <AgentPresence state={state} />
      <RoomAudioRenderer />
      <StartAudio label="Tap to hear Claude" className="button button-primary start-audio" />
    </RoomContext.Provider>
  );
}
