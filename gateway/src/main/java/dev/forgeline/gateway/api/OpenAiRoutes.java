package dev.forgeline.gateway.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.gateway.engine.BatchScheduler;
import dev.forgeline.gateway.models.ModelCatalog;
import dev.forgeline.gateway.models.ModelEntry;
import dev.forgeline.gateway.models.ModelPool;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatCompletionRequest;
import dev.forgeline.gateway.protocol.OpenAiProtocol.CompletionRequest;
import dev.forgeline.gateway.protocol.OpenAiProtocol.Model;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ModelList;
import dev.forgeline.gateway.remote.RemoteProxy;
import dev.forgeline.gateway.serving.ServingChat;
import dev.forgeline.gateway.serving.ServingCompletion;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.concurrent.CompletableFuture;

/**
 * The OpenAI API under {@code /v1}, on Vert.x routes rather than JAX-RS because one endpoint
 * answers either JSON or an SSE stream depending on the body, and the stream must be written
 * byte for byte as OpenAI writes it. Each handler: authenticate, parse into a protocol record,
 * validate, hand it to serving (in-process) or to the remote proxy, write the answer. Every
 * failure goes through {@link ApiError#of} and comes out in OpenAI's error shape.
 */
@ApplicationScoped
public class OpenAiRoutes {

    /**
     * Requests parse strictly: a string is not a number and a number is not a boolean, so a
     * wrongly typed field is a 400 naming it, as OpenAI answers, rather than a silent coercion.
     */
    static final ObjectMapper JSON = JsonMapper.builder()
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .build();

    @Inject
    GatewayConfig config;

    @Inject
    ApiKeys apiKeys;

    @Inject
    ModelCatalog catalog;

    @Inject
    ModelPool pool;

    @Inject
    ServingChat chat;

    @Inject
    ServingCompletion completions;

    @Inject
    RemoteProxy remote;

    void routes(@Observes Router router) {
        router.route("/v1/*").order(-10).handler(ctx -> {
            try {
                apiKeys.check(ctx.request().getHeader("Authorization"));
                ctx.next();
            } catch (ApiError e) {
                fail(ctx, e);
            }
        });
        router.route("/v1/*").order(-9).handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes()));
        router.get("/v1/models").handler(this::listModels);
        router.getWithRegex("/v1/models/(?<id>.+)").handler(this::getModel);
        router.post("/v1/chat/completions").blockingHandler(this::chatCompletions, false);
        router.post("/v1/completions").blockingHandler(this::completions, false);
        router.route("/v1/*").handler(ctx -> fail(ctx, ApiError.notFound("Unknown request URL: "
                + ctx.request().method() + " " + ctx.request().path())));
        router.route("/v1/*").failureHandler(ctx -> fail(ctx, ctx.statusCode() == 413
                ? ApiError.tooLarge(config.maxBodyBytes())
                : ctx.failure() != null ? ApiError.of(ctx.failure())
                : ctx.statusCode() == 400 ? ApiError.invalid(null, "Bad request")
                : ApiError.of(new IllegalStateException("status " + ctx.statusCode()))));
    }

    private void listModels(RoutingContext ctx) {
        ok(ctx, new ModelList(catalog.all().stream().map(OpenAiRoutes::model).toList()));
    }

    private void getModel(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        ModelEntry entry = catalog.find(id).orElse(null);
        if (entry == null) {
            fail(ctx, ApiError.modelNotFound(id));
        } else {
            ok(ctx, model(entry));
        }
    }

    private static Model model(ModelEntry e) {
        return new Model(e.id(), e.created(), e.ownedBy(), e.parent(), e.parent() != null ? e.parent() : e.id());
    }

    private void chatCompletions(RoutingContext ctx) {
        SseResponse sse = null;
        try {
            ObjectNode body = body(ctx);
            ChatCompletionRequest req = JSON.treeToValue(body, ChatCompletionRequest.class);
            req.validate();
            ModelEntry entry = find(req.model());
            if (req.isStream()) {
                sse = new SseResponse(ctx.response(), JSON);
            }
            if (entry.isRemote()) {
                relay(ctx, entry, "chat/completions", body, sse);
                return;
            }
            BatchScheduler scheduler = pool.acquire(entry);
            reply(ctx, chat.create(req, scheduler, sse));
        } catch (Exception e) {
            failOrAbort(ctx, sse, e);
        }
    }

    private void completions(RoutingContext ctx) {
        SseResponse sse = null;
        try {
            ObjectNode body = body(ctx);
            CompletionRequest req = JSON.treeToValue(body, CompletionRequest.class);
            req.validate();
            ModelEntry entry = find(req.model());
            if (req.isStream()) {
                sse = new SseResponse(ctx.response(), JSON);
            }
            if (entry.isRemote()) {
                relay(ctx, entry, "completions", body, sse);
                return;
            }
            BatchScheduler scheduler = pool.acquire(entry);
            reply(ctx, completions.create(req, scheduler, sse));
        } catch (Exception e) {
            failOrAbort(ctx, sse, e);
        }
    }

    private void relay(RoutingContext ctx, ModelEntry entry, String endpoint, ObjectNode body, SseResponse sse) {
        if (sse != null) {
            remote.stream(entry, endpoint, body, JSON, sse);
        } else {
            ok(ctx, remote.call(entry, endpoint, body, JSON));
        }
    }

    private ModelEntry find(String id) {
        return catalog.find(id).orElseThrow(() -> ApiError.modelNotFound(id));
    }

    private static ObjectNode body(RoutingContext ctx) throws java.io.IOException {
        Buffer raw = ctx.body().buffer();
        if (raw == null || raw.length() == 0) {
            throw ApiError.invalid(null, "The request body is empty; expected a JSON object");
        }
        JsonNode tree = JSON.readTree(raw.getBytes());
        if (!(tree instanceof ObjectNode o)) {
            throw ApiError.invalid(null, "The request body must be a JSON object");
        }
        return o;
    }

    /** Non-streaming: the future's value as JSON; streaming (null value): the stream already answered. */
    private static void reply(RoutingContext ctx, CompletableFuture<?> result) {
        result.whenComplete((value, error) -> {
            if (error != null) {
                fail(ctx, ApiError.of(error));
            } else if (value != null) {
                ok(ctx, value);
            }
        });
    }

    private static void failOrAbort(RoutingContext ctx, SseResponse sse, Exception e) {
        if (sse != null && sse.started()) {
            sse.fail(ApiError.of(e)); // headers are out: the error travels as an event
        } else {
            fail(ctx, ApiError.of(e));
        }
    }

    static void ok(RoutingContext ctx, Object body) {
        write(ctx, 200, body);
    }

    static void fail(RoutingContext ctx, ApiError e) {
        if (e.retryAfterSeconds() != null && !ctx.response().headWritten()) {
            ctx.response().putHeader("Retry-After", String.valueOf(e.retryAfterSeconds()));
        }
        write(ctx, e.status(), e.body());
    }

    private static void write(RoutingContext ctx, int status, Object body) {
        if (ctx.response().ended() || ctx.response().headWritten()) {
            return;
        }
        try {
            ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                    .end(Buffer.buffer(JSON.writeValueAsBytes(body)));
        } catch (JsonProcessingException e) {
            ctx.response().setStatusCode(500).end();
        }
    }
}
