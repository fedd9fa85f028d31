package dev.forgeline.gateway.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.OpenAiProtocol;
import dev.forgeline.gateway.serving.EventStream;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;

/**
 * An {@link EventStream} on a Vert.x response, written byte for byte as OpenAI does:
 * {@code data: <json>\n\n} per event and {@code data: [DONE]\n\n} at the end. Safe to call from
 * any thread; Vert.x keeps the writes in order.
 */
final class SseResponse implements EventStream {

    private final RoutingContext ctx;
    private final HttpServerResponse response;
    private final ObjectMapper json;
    private final List<Runnable> onClose = new ArrayList<>();
    private boolean started;
    private boolean finished;
    private boolean closed;

    SseResponse(RoutingContext ctx, ObjectMapper json) {
        this.ctx = ctx;
        this.response = ctx.response();
        this.json = json;
        response.closeHandler(v -> clientGone());
        response.exceptionHandler(e -> clientGone());
    }

    private void start() {
        if (!started) {
            started = true;
            response.setStatusCode(200)
                    .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                    .putHeader("Cache-Control", "no-cache")
                    .putHeader("X-Accel-Buffering", "no")
                    .setChunked(true);
        }
    }

    @Override
    public synchronized void send(Object chunk) {
        if (finished || closed) {
            return;
        }
        start();
        try {
            response.write(Buffer.buffer("data: " + json.writeValueAsString(chunk) + "\n\n"));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a chunk", e);
        } catch (IllegalStateException e) {
            clientGone(); // the response was closed under us
        }
    }

    @Override
    public synchronized void done() {
        if (finished || closed) {
            return;
        }
        start();
        finished = true;
        try {
            response.end(Buffer.buffer("data: " + OpenAiProtocol.DONE + "\n\n"));
        } catch (IllegalStateException e) {
            // closed meanwhile
        }
    }

    @Override
    public void fail(ApiError error) {
        OpenAiRoutes.logUnexpected(ctx, error);
        EventStream.super.fail(error);
    }

    @Override
    public void onClose(Runnable action) {
        boolean runNow;
        synchronized (this) {
            runNow = closed;
            if (!runNow) {
                onClose.add(action);
            }
        }
        if (runNow) {
            action.run();
        }
    }

    private void clientGone() {
        List<Runnable> actions;
        synchronized (this) {
            if (closed || finished) {
                return;
            }
            closed = true;
            actions = List.copyOf(onClose);
        }
        actions.forEach(Runnable::run);
    }

    synchronized boolean started() {
        return started;
    }
}
