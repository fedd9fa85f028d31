package dev.forgeline.gateway.serving;

import dev.forgeline.gateway.protocol.ApiError;

/** A Server-Sent Events response as OpenAI streams it: {@code data: <json>} events, then {@code data: [DONE]}. */
public interface EventStream {

    /** One {@code data: <json>} event. */
    void send(Object chunk);

    /** {@code data: [DONE]} and the end of the response. */
    void done();

    /** An error after the stream began: an error event, then {@code [DONE]}. */
    default void fail(ApiError error) {
        send(error.body());
        done();
    }

    /** Runs once if the client goes away before {@link #done()}. */
    void onClose(Runnable action);
}
