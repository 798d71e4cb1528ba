import { z } from 'zod';

/**
 * What the token service puts into the agent dispatch (RoomAgentDispatch.metadata) and the agent trusts.
 * Only the server writes it (the client cannot set room_config agents), so the agent may rely on it.
 */
export const dispatchMetadataSchema = z.object({
  v: z.literal(1),
  session_id: z.uuid(),
  user_id: z.uuid(),
  conversation_id: z.uuid(),
  /** Hard limit on the call's length; the agent says goodbye shortly before. */
  max_call_seconds: z.number().int().positive(),
});
export type DispatchMetadata = z.infer<typeof dispatchMetadataSchema>;

export function parseDispatchMetadata(raw: string | undefined): DispatchMetadata | undefined {
  if (!raw) return undefined;
  try {
    const parsed = dispatchMetadataSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
