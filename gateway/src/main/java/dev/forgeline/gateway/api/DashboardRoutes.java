package dev.forgeline.gateway.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.gateway.dashboard.Dashboard;
import dev.forgeline.gateway.dashboard.DashboardProtocol.ListOf;
import dev.forgeline.gateway.protocol.ApiError;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The dashboard: its page ({@code /ui/}, static files in {@code META-INF/resources/ui}) and the
 * JSON the page reads ({@code /ui/api/...}), behind the same API keys as {@code /v1} and with the
 * same OpenAI-shaped errors. Reads only; the page's chat goes through {@code /v1} itself.
 */
@ApplicationScoped
public class DashboardRoutes {

    static final String API = "/ui/api";
    /** Events returned with a job's curves, for the page's event log. */
    static final int LATEST_EVENTS = 50;
    static final int DEFAULT_EXAMPLES = 20;
    /** A comment line on idle streams, so that proxies and the browser keep them open. */
    static final long HEARTBEAT_MS = 15_000;

    @Inject
    ApiKeys apiKeys;

    @Inject
    Dashboard dashboard;

    void routes(@Observes Router router) {
        // "/ui" as a plain path would match "/ui/" too (Vert.x ignores a trailing slash): redirect loop
        router.getWithRegex("/ui").handler(ctx -> ctx.redirect("/ui/"));
        router.route(API + "/*").order(-10).handler(ctx -> {
            OpenAiRoutes.requestId(ctx);
            try {
                apiKeys.check(ctx.request().getHeader("Authorization"));
                ctx.next();
            } catch (ApiError e) {
                OpenAiRoutes.fail(ctx, e);
            }
        });
        router.get(API + "/jobs").handler(answer(ctx -> ListOf.of(dashboard.jobs())));
        router.get(API + "/jobs/stream").handler(this::stream);
        router.get(API + "/jobs/:id").handler(answer(ctx -> dashboard.job(ctx.pathParam("id"))));
        router.get(API + "/jobs/:id/events").handler(answer(ctx -> dashboard.events(ctx.pathParam("id"), LATEST_EVENTS)));
        router.get(API + "/models").handler(answer(ctx -> ListOf.of(dashboard.models())));
        router.get(API + "/models/:id").handler(answer(ctx -> dashboard.model(ctx.pathParam("id"))));
        router.get(API + "/models/:id/eval").blockingHandler(answer(ctx -> dashboard.evaluation(ctx.pathParam("id"))), false);
        router.get(API + "/datasets").handler(answer(ctx -> ListOf.of(dashboard.datasets())));
        router.get(API + "/datasets/:id").blockingHandler(
                answer(ctx -> dashboard.dataset(ctx.pathParam("id"), limit(ctx))), false);
        router.route(API + "/*").handler(ctx -> {
            String request = ctx.request().method() + " " + ctx.request().path();
            if (!HttpMethod.GET.equals(ctx.request().method())) {
                ctx.response().putHeader("Allow", "GET");
                OpenAiRoutes.fail(ctx, ApiError.methodNotAllowed(request));
            } else {
                OpenAiRoutes.fail(ctx, ApiError.notFound("Unknown request URL: " + request));
            }
        });
        router.route(API + "/*").failureHandler(ctx -> OpenAiRoutes.fail(ctx,
                ApiError.of(ctx.failure() != null ? ctx.failure() : new IllegalStateException("status " + ctx.statusCode()))));
    }

    @FunctionalInterface
    interface Answer {
        Object of(RoutingContext ctx);
    }

    /** A handler that writes the answer as JSON, or its failure in OpenAI's error shape. */
    private static Handler<RoutingContext> answer(Answer answer) {
        return ctx -> {
            try {
                write(ctx, 200, answer.of(ctx));
            } catch (RuntimeException e) {
                OpenAiRoutes.fail(ctx, ApiError.of(e));
            }
        };
    }

    private static int limit(RoutingContext ctx) {
        String raw = ctx.request().getParam("limit");
        if (raw == null) {
            return DEFAULT_EXAMPLES;
        }
        try {
            int n = Integer.parseInt(raw.strip());
            if (n >= 1 && n <= Dashboard.MAX_EXAMPLES) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiError.invalid("limit", "'limit' must be a whole number from 1 to " + Dashboard.MAX_EXAMPLES);
    }

    /**
     * Job statuses as they change, as server-sent events: each job's current status first, then a
     * {@code synced} event, then every new status; with {@code ?job=ID}, that job's progress events
     * as well. The page reads it with {@code fetch} (an EventSource cannot send the API key).
     */
    private void stream(RoutingContext ctx) {
        String jobId = ctx.request().getParam("job");
        HttpServerResponse response = ctx.response();
        AtomicBoolean closed = new AtomicBoolean();
        Dashboard.Subscriber[] self = new Dashboard.Subscriber[1];
        long[] timer = {-1};
        Runnable close = () -> {
            if (closed.compareAndSet(false, true)) {
                if (self[0] != null) {
                    dashboard.unsubscribe(self[0]);
                }
                if (timer[0] >= 0) {
                    ctx.vertx().cancelTimer(timer[0]);
                }
            }
        };
        java.util.function.Consumer<String> send = chunk -> {
            if (closed.get()) {
                return;
            }
            // a reader too slow for the statuses is let go rather than buffered without end
            if (response.writeQueueFull()) {
                close.run();
                response.reset();
                return;
            }
            try {
                response.write(chunk);
            } catch (IllegalStateException e) {
                close.run();
            }
        };
        self[0] = new Dashboard.Subscriber(jobId,
                status -> send.accept(data(Map.of("type", "status", "job", Dashboard.row(status, Instant.now())))),
                event -> send.accept(data(Map.of("type", "event", "event", Dashboard.event(event)))));
        try {
            dashboard.view(); // 503 before any header while the view is catching up
        } catch (ApiError e) {
            OpenAiRoutes.fail(ctx, e);
            return;
        }
        response.setStatusCode(200)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Accel-Buffering", "no")
                .setChunked(true);
        response.closeHandler(v -> close.run());
        response.exceptionHandler(e -> close.run());
        // subscribe before the snapshot: a status that changes in between is sent twice, never lost
        dashboard.subscribe(self[0]);
        for (JobStatus s : dashboard.view().jobs()) {
            send.accept(data(Map.of("type", "status", "job", Dashboard.row(s, Instant.now()))));
        }
        send.accept(data(Map.of("type", "synced")));
        timer[0] = ctx.vertx().setPeriodic(HEARTBEAT_MS, id -> send.accept(": ping\n\n"));
    }

    private static String data(Object value) {
        return "data: " + ContractsJson.write(value) + "\n\n";
    }

    /** Contracts' mapper: the views hold instants, written as ISO-8601 strings. */
    private static void write(RoutingContext ctx, int status, Object body) {
        if (ctx.response().ended() || ctx.response().headWritten()) {
            return;
        }
        try {
            ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                    .end(Buffer.buffer(ContractsJson.mapper().writeValueAsBytes(body)));
        } catch (JsonProcessingException e) {
            OpenAiRoutes.fail(ctx, ApiError.of(new IllegalStateException("cannot write the answer", e)));
        }
    }
}
