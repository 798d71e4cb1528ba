import { ParticipantInfo_Kind } from '@livekit/protocol';
import {
  type AgentDispatch,
  AgentDispatchClient,
  type ParticipantInfo,
  RoomServiceClient,
  TwirpError,
} from 'livekit-server-sdk';

/**
 * What the token service does to LiveKit rooms after issuing a token, through LiveKit's server API (Twirp over
 * HTTP, signed with the API key): the dispatch watchdog looks into a room and dispatches the agent again; the
 * webhook handler closes rooms whose call is over.
 */
export interface LivekitRooms {
  /** The room's participants; undefined when the room does not exist (never created, or closed). */
  participants(room: string): Promise<ParticipantInfo[] | undefined>;
  /** The room's agent dispatches; a dispatch a worker took carries the job in `state.jobs`. */
  dispatches(room: string): Promise<AgentDispatch[]>;
  dispatchAgent(room: string, agentName: string, metadata: string): Promise<void>;
  removeDispatch(room: string, dispatchId: string): Promise<void>;
  /**
   * Ends the room for everyone in it: first its metadata says why (`{"end_reason": ...}`, which every client SDK
   * surfaces as room metadata before the disconnect), then the room is deleted (clients see the disconnect reason
   * ROOM_DELETED). A room that is already gone is fine.
   */
  close(room: string, endReason: string): Promise<void>;
}

/** What the room metadata holds once the service closes a room (the web client and mobile apps read it). */
export interface ClosedRoomMetadata {
  end_reason: string;
}

export function isAgent(participant: ParticipantInfo): boolean {
  return participant.kind === ParticipantInfo_Kind.AGENT;
}

/** A dispatch some worker accepted (it has a job); one without jobs found no worker and will not be retried. */
export function dispatchWasTaken(dispatch: AgentDispatch): boolean {
  return (dispatch.state?.jobs.length ?? 0) > 0;
}

function isNotFound(error: unknown): boolean {
  return error instanceof TwirpError && (error.status === 404 || error.code === 'not_found');
}

export function createLivekitRooms(options: {
  /** http(s):// base URL of the LiveKit server API. */
  apiUrl: string;
  apiKey: string;
  apiSecret: string;
  /** Per call; a LiveKit that does not answer must not hold a webhook or a watchdog round for long. */
  timeoutSeconds?: number;
}): LivekitRooms {
  const clientOptions = { requestTimeout: options.timeoutSeconds ?? 5 };
  const rooms = new RoomServiceClient(options.apiUrl, options.apiKey, options.apiSecret, clientOptions);
  const agents = new AgentDispatchClient(options.apiUrl, options.apiKey, options.apiSecret, clientOptions);

  return {
    async participants(room) {
      try {
        return await rooms.listParticipants(room);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async dispatches(room) {
      try {
        return await agents.listDispatch(room);
      } catch (error) {
        if (isNotFound(error)) return [];
        throw error;
      }
    },
    async dispatchAgent(room, agentName, metadata) {
      await agents.createDispatch(room, agentName, { metadata });
    },
    async removeDispatch(room, dispatchId) {
      try {
        await agents.deleteDispatch(dispatchId, room);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
    async close(room, endReason) {
      const metadata: ClosedRoomMetadata = { end_reason: endReason };
      try {
        await rooms.updateRoomMetadata(room, JSON.stringify(metadata));
      } catch (error) {
        if (isNotFound(error)) return;
        // Deleting is what matters; the reason is also in voice_sessions.end_reason.
      }
      try {
        await rooms.deleteRoom(room);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
  };
}
