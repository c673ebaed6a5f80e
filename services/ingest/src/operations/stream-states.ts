import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";

/** One stream as system health shows it. */
export type StreamState =
  | {
      name: string;
      exists: true;
      messages: number;
      bytes: number;
      consumers: number;
      /** -1: no limit. */
      maxBytes: number;
      maxMessages: number;
      discard: "old" | "new";
    }
  | { name: string; exists: false };

export type StreamStates =
  | { outcome: "read"; streams: StreamState[] }
  | { outcome: "unavailable"; error: unknown };

/** Each stream's info (state and limits); a stream that does not exist is reported as such. */
export async function readStreamStates(
  jsm: JetStreamManager,
  streams: readonly string[],
): Promise<StreamStates> {
  try {
    const read = await Promise.all(
      streams.map(async (name): Promise<StreamState> => {
        try {
          const { state, config } = await jsm.streams.info(name);
          return {
            name,
            exists: true,
            messages: state.messages,
            bytes: state.bytes,
            consumers: state.consumer_count,
            maxBytes: config.max_bytes,
            maxMessages: config.max_msgs,
            discard: config.discard === "new" ? "new" : "old",
          };
        } catch (error) {
          const missing =
            error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
          if (missing) return { name, exists: false };
          throw error;
        }
      }),
    );
    return { outcome: "read", streams: read };
  } catch (error) {
    return { outcome: "unavailable", error };
  }
}
