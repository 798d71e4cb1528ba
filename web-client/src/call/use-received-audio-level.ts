import { createAudioAnalyser, type RemoteAudioTrack } from 'livekit-client';
import { useEffect, useRef, useState } from 'react';
import { AudioLevelStats } from './audio-level.ts';

const SAMPLE_MS = 100;

/**
 * Measures the agent's audio as it arrives in this browser (WebAudio analyser on the remote track). The track must
 * also play through an <audio> element (RoomAudioRenderer does that), or Chromium feeds the analyser silence.
 */
export function useReceivedAudioLevel(track: RemoteAudioTrack | undefined): AudioLevelStats {
  const statsRef = useRef(new AudioLevelStats());
  const [, setTick] = useState(0);

  useEffect(() => {
    if (!track) return;
    let analyser: ReturnType<typeof createAudioAnalyser> | undefined;
    try {
      analyser = createAudioAnalyser(track);
    } catch {
      return;
    }
    let renders = 0;
    const timer = setInterval(() => {
      if (!analyser) return;
      statsRef.current.add(analyser.calculateVolume(), SAMPLE_MS);
      // Re-render at ~4 Hz: enough for the meter and the data attributes.
      if (++renders % 2 === 0) setTick((n) => n + 1);
    }, SAMPLE_MS);
    return () => {
      clearInterval(timer);
      void analyser?.cleanup();
    };
  }, [track]);

  return statsRef.current;
}
