// Building blocks of the AsyncAPI 3 document (src/asyncapi.ts assembles it): message payloads as
// JSON Schema from the zod schemas the server validates and emits with, and the shape of the
// channels, messages and operations each engine contributes.
import { z } from 'zod';

export type JsonObject = Record<string, unknown>;

/**
 * A zod schema as JSON Schema draft-07 (AsyncAPI's default schema format). `input`: what a
 * client may send (before transforms); `output`: what the server sends.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as JsonObject;
  return rest;
}

/** What one engine adds to the document; every reference is document-absolute (`#/components/…`). */
export interface AsyncApiPart {
  channels: Record<string, JsonObject>;
  operations: Record<string, JsonObject>;
  messages: Record<string, JsonObject>;
}

export const ref = (path: string) => ({ $ref: path });
export const messageRef = (id: string) => ref(`#/components/messages/${id}`);

/** The channel's messages, each pointing at its component. */
export function channelMessages(ids: readonly string[]): Record<string, JsonObject> {
  return Object.fromEntries(ids.map((id) => [id, messageRef(id)]));
}

/** An operation on one channel with some of its messages (and, for a request, the reply's). */
export function operation(
  action: 'send' | 'receive',
  channel: string,
  messages: readonly string[],
  details: { summary: string; description?: string; reply?: readonly string[]; security?: readonly JsonObject[] },
): JsonObject {
  const channelRef = ref(`#/channels/${channel}`);
  return {
    action,
    channel: channelRef,
    summary: details.summary,
    ...(details.description ? { description: details.description } : {}),
    ...(details.security ? { security: details.security } : {}),
    messages: messages.map((id) => ref(`#/channels/${channel}/messages/${id}`)),
    ...(details.reply ? { reply: { channel: channelRef, messages: details.reply.map((id) => ref(`#/channels/${channel}/messages/${id}`)) } } : {}),
  };
}
