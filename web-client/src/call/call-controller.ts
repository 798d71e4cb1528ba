import {
  ConnectionError,
  DisconnectReason,
  MediaDeviceFailure,
  type Participant,
  ParticipantKind,
  type RemoteParticipant,
  Room,
  RoomEvent,
  type TextStreamReader,
  TokenSource,
  Track,
} from 'livekit-client';
import type { CallFailure } from './call-failures.ts';
import {
  type AgentActivity,
  type CallEndReason,
  type CallEvent,
  type CallGrant,
  type CallState,
  callReducer,
  closedForNoAgent,
  endReasonFromServer,
  initialCallState,
  isCallLive,
} from './call-state.ts';
import { CallTokenError, requestCallToken } from './token-client.ts';
import { type TranscriptRole, TranscriptStore, type TranscriptStreamInfo } from './transcript-store.ts';
import { TurnLatencyTracker } from './turn-latency.ts';

/**
 * Runs one call: microphone check → token → LiveKit room → agent, feeding every outcome into the pure reducer.
 * One instance per call attempt; its transcript outlives the room so the page keeps showing it afterwards.
 */

export interface CallControllerOptions {
  tokenServiceUrl: string;
  /** The current Supabase access token (refreshed by supabase-js), or undefined when signed out. */
  getAccessToken: () => Promise<string | undefined>;
  agentJoinTimeoutSeconds: number;
  conversationId?: string;
  participantName?: string;
  /** Reads voice_sessions.end_reason (RLS: the user's own row), to say why the other side ended the call. */
  lookupEndReason?: (sessionId: string) => Promise<string | undefined>;
}

interface Credentials {
  serverUrl: string;
  participantToken: string;
}

/**
 * When the token service gives up waiting for the agent it closes the room, and says why in the room's metadata
 * first (`{"end_reason":"agent_unavailable"}`). The page's own timer is a backstop for a service that could not
 * close the room: it fires this long after the service's deadline.
 */
const AGENT_DEADLINE_GRACE_SECONDS = 10;
const AGENT_STATE_ATTRIBUTE = 'lk.agent.state';
const TRANSCRIPTION_TOPIC = 'lk.transcription';
const TRANSCRIBED_TRACK_ATTRIBUTE = 'lk.transcribed_track_id';
/** Our agent sets this before it ends a call on its own (max_duration | idle | ...). */
export const AGENT_END_REASON_ATTRIBUTE = 'voice.end_reason';

const AGENT_ACTIVITIES: ReadonlySet<string> = new Set([
  'initializing',
  'idle',
  'listening',
  'thinking',
  'speaking',
]);

export function microphoneFailure(error: unknown): CallFailure {
  const failure = MediaDeviceFailure.getFailure(error);
  switch (failure) {
    case MediaDeviceFailure.PermissionDenied:
      return { kind: 'microphone', reason: 'permission-denied' };
    case MediaDeviceFailure.NotFound:
      return { kind: 'microphone', reason: 'not-found' };
    case MediaDeviceFailure.DeviceInUse:
      return { kind: 'microphone', reason: 'in-use' };
    default:
      return { kind: 'microphone', reason: 'other' };
  }
}

function endReasonFromAgent(value: string | undefined): CallEndReason {
  return endReasonFromServer(value) ?? 'agent-ended';
}

/** The agent records the end before it closes the room; a few short retries cover a slow write. */
const END_REASON_LOOKUP_DELAYS_MS = [0, 800, 2000, 4000];

export class CallController {
  readonly transcript: TranscriptStore;
  readonly latency = new TurnLatencyTracker();
  private state: CallState = initialCallState;
  private readonly listeners = new Set<() => void>();
  private room: Room | undefined;
  private agent: RemoteParticipant | undefined;
  private agentTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: CallControllerOptions) {
    this.transcript = new TranscriptStore((info) => this.roleOf(info));
    this.transcript.onFinal((entry) => {
      if (entry.role === 'user') this.latency.userTurnFinal(Date.now());
    });
  }

  getState = (): CallState => this.state;

  getRoom(): Room | undefined {
    return this.room;
  }

  getAgent(): RemoteParticipant | undefined {
    return this.agent;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  async start(): Promise<void> {
    if (isCallLive(this.state)) return;
    this.dispatch({ type: 'start' });
    try {
      if (!(await this.checkMicrophone())) return;
      const credentials = await this.fetchCredentials();
      if (!credentials) return;
      await this.connect(credentials);
    } catch (error) {
      this.fail({ kind: 'unexpected', detail: (error as Error)?.message ?? String(error) });
    }
  }

  async hangUp(): Promise<void> {
    if (!isCallLive(this.state)) return;
    this.dispatch({ type: 'hangup' });
    this.abort.abort();
    await this.leave('hangup');
  }

  async setMuted(muted: boolean): Promise<void> {
    const room = this.room;
    if (!room || !isCallLive(this.state)) return;
    await room.localParticipant.setMicrophoneEnabled(!muted);
    this.dispatch({ type: 'muted', muted });
  }

  /** Leave without ceremony (page unload, component unmount). */
  dispose(): void {
    this.abort.abort();
    this.clearAgentTimer();
    void this.room?.disconnect();
  }

  private dispatch(event: CallEvent): void {
    const previous = this.state;
    const next = callReducer(previous, event);
    if (next === previous) return;
    this.state = next;
    for (const listener of this.listeners) listener();
    if (next.phase === 'ended' && previous.phase !== 'ended') void this.refineEndReason();
  }

  private async refineEndReason(): Promise<void> {
    const { endReason, grant } = this.state;
    const lookup = this.options.lookupEndReason;
    if (!lookup || !grant || (endReason !== 'agent-ended' && endReason !== 'room-closed')) return;
    for (const delay of END_REASON_LOOKUP_DELAYS_MS) {
      await new Promise((r) => setTimeout(r, delay));
      const reason = endReasonFromServer(await lookup(grant.sessionId).catch(() => undefined));
      if (reason) {
        this.dispatch({ type: 'end-reason', reason });
        return;
      }
    }
  }

  private fail(failure: CallFailure): void {
    if (!isCallLive(this.state)) return;
    this.dispatch({ type: 'failed', failure, at: Date.now() });
    void this.leave();
  }

  /**
   * Ask for the microphone before asking for a token: a denied or missing microphone must not use up one of the
   * user's concurrent calls or rate budget. The permission then stays granted for the real capture below.
   */
  private async checkMicrophone(): Promise<boolean> {
    if (!navigator.mediaDevices?.getUserMedia) {
      // No media API at all (e.g. a page served over plain http from another host).
      this.fail({ kind: 'microphone', reason: 'not-found' });
      return false;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const track of stream.getTracks()) track.stop();
    } catch (error) {
      this.fail(microphoneFailure(error));
      return false;
    }
    if (this.abort.signal.aborted) return false;
    this.dispatch({ type: 'microphone-ready' });
    return true;
  }

  private async fetchCredentials(): Promise<Credentials | undefined> {
    const accessToken = await this.options.getAccessToken();
    if (!accessToken) {
      this.fail({ kind: 'not-signed-in' });
      return undefined;
    }
    let grant: CallGrant | undefined;
    // A standard LiveKit TokenSource over our token endpoint; see token-client.ts for why not .endpoint().
    const tokenSource = TokenSource.custom(async () => {
      const response = await requestCallToken({
        tokenServiceUrl: this.options.tokenServiceUrl,
        accessToken,
        signal: this.abort.signal,
        ...(this.options.conversationId ? { conversationId: this.options.conversationId } : {}),
        ...(this.options.participantName ? { participantName: this.options.participantName } : {}),
      });
      grant = {
        sessionId: response.session_id,
        conversationId: response.conversation_id,
        roomName: response.room_name,
        limits: response.limits,
        ...(typeof response.agent_join_timeout_seconds === 'number'
          ? { agentJoinTimeoutSeconds: response.agent_join_timeout_seconds }
          : {}),
      };
      return { serverUrl: response.server_url, participantToken: response.participant_token };
    });
    try {
      const credentials = await tokenSource.fetch({});
      if (!grant) throw new Error('token source returned no grant');
      this.dispatch({ type: 'token-granted', grant });
      return credentials;
    } catch (error) {
      if (this.abort.signal.aborted) return undefined;
      if (error instanceof CallTokenError) {
        const f = error.failure;
        this.fail(
          f.kind === 'unreachable'
            ? { kind: 'token-service-unreachable' }
            : {
                kind: 'token-rejected',
                code: f.code,
                status: f.status,
                message: f.message,
                ...(f.retryAfterSeconds !== undefined
                  ? { retryAt: Date.now() + f.retryAfterSeconds * 1000 }
                  : {}),
              },
        );
        return undefined;
      }
      throw error;
    }
  }

  private async connect(credentials: Credentials): Promise<void> {
    if (this.abort.signal.aborted) return;
    const room = new Room({
      // Voice only: no simulcast/adaptive video machinery.
      adaptiveStream: false,
      dynacast: false,
      audioCaptureDefaults: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    this.room = room;
    this.wireRoom(room);
    for (const listener of this.listeners) listener();

    const [connected, microphone] = await Promise.allSettled([
      room.connect(credentials.serverUrl, credentials.participantToken),
      // Started together with connect: the pre-connect buffer records from now and replays to the agent once it
      // joins, so the user's first words are not lost while the agent is still arriving.
      room.localParticipant.setMicrophoneEnabled(true, undefined, { preConnectBuffer: true }),
    ]);
    if (!isCallLive(this.state)) return;
    if (connected.status === 'rejected') {
      const error = connected.reason;
      this.fail({
        kind: 'livekit-unreachable',
        detail: error instanceof ConnectionError ? error.reasonName : String(error),
      });
      return;
    }
    if (microphone.status === 'rejected') {
      this.fail(microphoneFailure(microphone.reason));
      return;
    }
    this.dispatch({ type: 'room-connected', at: Date.now() });
    for (const participant of room.remoteParticipants.values()) this.considerAgent(participant);
    if (!this.agent) {
      const serverDeadline = this.state.grant?.agentJoinTimeoutSeconds;
      const seconds =
        serverDeadline !== undefined
          ? serverDeadline + AGENT_DEADLINE_GRACE_SECONDS
          : this.options.agentJoinTimeoutSeconds;
      this.agentTimer = setTimeout(() => {
        if (!this.agent) this.fail({ kind: 'agent-timeout', seconds });
      }, seconds * 1000);
    }
  }

  private wireRoom(room: Room): void {
    room
      .on(RoomEvent.ParticipantConnected, (participant) => this.considerAgent(participant))
      .on(RoomEvent.ParticipantAttributesChanged, (_changed, participant) => this.onAttributes(participant))
      .on(RoomEvent.RoomMetadataChanged, (metadata) => {
        if (!this.agent && closedForNoAgent(metadata)) this.fail({ kind: 'agent-unavailable' });
      })
      .on(RoomEvent.ParticipantDisconnected, (participant) => {
        if (participant !== this.agent || !isCallLive(this.state)) return;
        const reason = endReasonFromAgent(participant.attributes[AGENT_END_REASON_ATTRIBUTE]);
        this.dispatch({ type: 'ended', reason, at: Date.now() });
        void this.leave();
      })
      .on(RoomEvent.Reconnecting, () => this.dispatch({ type: 'reconnecting' }))
      .on(RoomEvent.SignalReconnecting, () => this.dispatch({ type: 'reconnecting' }))
      .on(RoomEvent.Reconnected, () => this.dispatch({ type: 'reconnected' }))
      .on(RoomEvent.LocalTrackPublished, () => this.syncMuted())
      .on(RoomEvent.TrackMuted, () => this.syncMuted())
      .on(RoomEvent.TrackUnmuted, () => this.syncMuted())
      .on(RoomEvent.MediaDevicesError, (error) => {
        if (this.state.phase === 'in-call' || this.state.phase === 'waiting-for-agent') {
          this.fail(microphoneFailure(error));
        }
      })
      .on(RoomEvent.Disconnected, (reason) => this.onDisconnected(reason));
    room.registerTextStreamHandler(TRANSCRIPTION_TOPIC, (reader, participantInfo) => {
      void this.readTranscription(reader, participantInfo.identity);
    });
  }

  private async readTranscription(reader: TextStreamReader, senderIdentity: string): Promise<void> {
    const streamId = reader.info.id;
    this.transcript.open({
      streamId,
      senderIdentity,
      // Local receive time orders entries; sender clocks may differ.
      timestamp: Date.now(),
      ...(reader.info.attributes ? { attributes: reader.info.attributes } : {}),
    });
    try {
      for await (const chunk of reader) this.transcript.append(streamId, chunk);
    } finally {
      this.transcript.close(streamId);
    }
  }

  private roleOf(info: TranscriptStreamInfo): TranscriptRole {
    const local = this.room?.localParticipant;
    if (!local) return 'assistant';
    if (info.senderIdentity === local.identity) return 'user';
    const trackId = info.attributes?.[TRANSCRIBED_TRACK_ATTRIBUTE];
    if (trackId && local.trackPublications.has(trackId)) return 'user';
    return 'assistant';
  }

  private considerAgent(participant: Participant): void {
    // Avatar workers also join as agents but publish on the real agent's behalf; they are not the agent.
    if (this.agent || participant.kind !== ParticipantKind.AGENT) return;
    if ('lk.publish_on_behalf' in participant.attributes) return;
    this.agent = participant as RemoteParticipant;
    this.clearAgentTimer();
    this.dispatch({ type: 'agent-joined' });
    this.onAttributes(participant);
    for (const listener of this.listeners) listener();
  }

  private onAttributes(participant: Participant): void {
    if (participant !== this.agent) {
      this.considerAgent(participant);
      return;
    }
    const value = participant.attributes[AGENT_STATE_ATTRIBUTE];
    if (value && AGENT_ACTIVITIES.has(value) && value !== this.state.agentActivity) {
      const activity = value as AgentActivity;
      this.latency.agentActivity(activity, Date.now());
      this.dispatch({ type: 'agent-activity', activity });
    }
    for (const listener of this.listeners) listener();
  }

  private syncMuted(): void {
    const publication = this.room?.localParticipant.getTrackPublication(Track.Source.Microphone);
    if (publication) this.dispatch({ type: 'muted', muted: publication.isMuted });
  }

  private onDisconnected(reason: DisconnectReason | undefined): void {
    this.clearAgentTimer();
    this.transcript.finalizeAll();
    if (!isCallLive(this.state)) return;
    const at = Date.now();
    if (this.state.phase === 'ending' || reason === DisconnectReason.CLIENT_INITIATED) {
      this.dispatch({ type: 'ended', reason: 'hangup', at });
    } else if (!this.agent && closedForNoAgent(this.room?.metadata)) {
      this.dispatch({ type: 'failed', failure: { kind: 'agent-unavailable' }, at });
    } else if (reason === DisconnectReason.ROOM_DELETED || reason === DisconnectReason.PARTICIPANT_REMOVED) {
      const agentReason = this.agent?.attributes[AGENT_END_REASON_ATTRIBUTE];
      this.dispatch({
        type: 'ended',
        reason: agentReason ? endReasonFromAgent(agentReason) : 'room-closed',
        at,
      });
    } else {
      this.dispatch({ type: 'failed', failure: { kind: 'connection-lost' }, at });
    }
  }

  private async leave(reason?: 'hangup'): Promise<void> {
    this.clearAgentTimer();
    const room = this.room;
    if (room) {
      await room.disconnect();
    }
    this.transcript.finalizeAll();
    if (reason === 'hangup') this.dispatch({ type: 'ended', reason: 'hangup', at: Date.now() });
  }

  private clearAgentTimer(): void {
    if (this.agentTimer !== undefined) clearTimeout(this.agentTimer);
    this.agentTimer = undefined;
  }
}
