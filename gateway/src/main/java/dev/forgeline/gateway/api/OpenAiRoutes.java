package dev.forgeline.gateway.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.type.LogicalType;
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
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/**
 * The OpenAI API under {@code /v1}, on Vert.x routes rather than JAX-RS because one endpoint
 * answers either JSON or an SSE stream depending on the body, and the stream must be written
 * byte for byte as OpenAI writes it. Each handler: authenticate, parse into a protocol record,
 * validate, hand it to serving (in-process) or to the remote proxy, write the answer. Every
 * failure goes through {@link ApiError#of} and comes out in OpenAI's error shape: a body that is
 * not JSON too (415 or 400), a wrong method (405), an unknown path anywhere on the server (404).
 */
@ApplicationScoped
public class OpenAiRoutes {

    private static final Logger LOG = Logger.getLogger(OpenAiRoutes.class);

    /**
     * Requests parse strictly: a string is not a number, a number is not a boolean nor a string,
     * so a wrongly typed field is a 400 naming it, as OpenAI answers, rather than a silent coercion.
     */
    static final ObjectMapper JSON = JsonMapper.builder()
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .withCoercionConfig(LogicalType.Textual, c -> c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .build();

    /** A route: its name as logs write it (never the raw path, which the client chose), its path and methods. */
    record RouteSpec(String name, Pattern path, Set<HttpMethod> methods) {
        static RouteSpec of(String name, String pathRegex, String... methods) {
            return new RouteSpec(name, Pattern.compile(pathRegex),
                    Arrays.stream(methods).map(HttpMethod::valueOf).collect(Collectors.toCollection(LinkedHashSet::new)));
        }
    }

    /** Every route and the methods it answers, for 405s and log lines. */
    private static final List<RouteSpec> ROUTES = Stream.concat(Stream.of(
            RouteSpec.of("/v1/chat/completions", "/v1/chat/completions", "POST"),
            RouteSpec.of("/v1/completions", "/v1/completions", "POST"),
            RouteSpec.of("/v1/models", "/v1/models", "GET"),
            RouteSpec.of("/v1/models/{id}", "/v1/models/.+", "GET")), FineTuningRoutes.SPECS.stream()).toList();

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

    @Inject
    FineTuningRoutes fineTuning;

    void routes(@Observes Router router) {
        router.route("/v1/*").order(-10).handler(ctx -> {
            requestId(ctx);
            try {
                apiKeys.check(ctx.request().getHeader("Authorization"));
                ctx.next();
            } catch (ApiError e) {
                fail(ctx, e);
            }
        });
        // The JSON POST routes read their body with Vert.x's BodyHandler, which decodes a form or
        // multipart body itself (and throws on a malformed one), so those types are turned away first;
        // POST /v1/files reads its multipart body itself (FineTuningRoutes).
        BodyHandler bodies = BodyHandler.create(false).setBodyLimit(config.maxBodyBytes());
        for (String path : List.of("/v1/chat/completions", "/v1/completions")) {
            router.post(path).order(-9).handler(OpenAiRoutes::requireJson);
            router.post(path).order(-8).handler(bodies);
        }
        router.get("/v1/models").handler(this::listModels);
        router.getWithRegex("/v1/models/(?<id>.+)").handler(this::getModel);
        router.post("/v1/chat/completions").blockingHandler(this::chatCompletions, false);
        router.post("/v1/completions").blockingHandler(this::completions, false);
        fineTuning.register(router, bodies);
        router.route("/v1/*").handler(ctx -> fail(ctx, unrouted(ctx, 404)));
        router.route("/v1/*").failureHandler(ctx -> fail(ctx, failure(ctx)));
        // what no route took, anywhere on the server (Vert.x's default is an HTML page)
        for (int status : new int[] {400, 404, 405}) {
            router.errorHandler(status, ctx -> fail(ctx, unrouted(ctx, status)));
        }
    }

    /** The route a request's path falls under, if any. */
    private static RouteSpec spec(RoutingContext ctx) {
        String path = ctx.request().path();
        return path == null ? null : ROUTES.stream().filter(r -> r.path().matcher(path).matches()).findFirst().orElse(null);
    }

    /** The route a request's path falls under, as the log names it. */
    private static String route(RoutingContext ctx) {
        RouteSpec spec = spec(ctx);
        String path = ctx.request().path();
        return spec != null ? spec.name() : path == null ? "?" : path.startsWith("/v1/") ? "/v1/*" : "/*";
    }

    /** A request no handler took: 405 on a route's path with another method, else 404 (or Vert.x's 400). */
    private static ApiError unrouted(RoutingContext ctx, int status) {
        String request = ctx.request().method() + " " + ctx.request().path();
        RouteSpec spec = spec(ctx);
        if (spec != null && !spec.methods().contains(ctx.request().method())) {
            ctx.response().putHeader("Allow", spec.methods().stream().map(HttpMethod::name).collect(Collectors.joining(", ")));
            return ApiError.methodNotAllowed(request);
        }
        return status == 400 ? ApiError.invalid(null, "Bad request: the URL or a header cannot be read")
                : ApiError.notFound("Unknown request URL: " + request);
    }

    /** JSON or no Content-Type (read as JSON); anything else 415 before its body is read. */
    static void requireJson(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        String media = type == null ? null : type.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        if (media == null || media.equals("application/json") || media.endsWith("+json")) {
            ctx.next();
        } else {
            fail(ctx, ApiError.unsupportedMediaType(media));
        }
    }

    /**
     * A failure Vert.x or a handler signalled: a 4xx that Vert.x chose stays one, and so does a
     * failure before the whole body arrived (the client went away or broke the chunked framing).
     */
    private ApiError failure(RoutingContext ctx) {
        int status = ctx.statusCode();
        if (status == 413) {
            return ApiError.tooLarge(config.maxBodyBytes());
        }
        if (status >= 400 && status < 500) {
            return new ApiError(status, "invalid_request_error", "Bad request", null, null, null);
        }
        if (!ctx.request().isEnded() && !(ctx.failure() instanceof ApiError)) {
            return ApiError.invalid(null, "The request body could not be read");
        }
        return ApiError.of(ctx.failure() != null ? ctx.failure() : new IllegalStateException("status " + status));
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
                sse = new SseResponse(ctx, JSON);
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
                sse = new SseResponse(ctx, JSON);
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

    static ObjectNode body(RoutingContext ctx) throws java.io.IOException {
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
        logUnexpected(ctx, e);
        if (e.retryAfterSeconds() != null && !ctx.response().headWritten()) {
            ctx.response().putHeader("Retry-After", String.valueOf(e.retryAfterSeconds()));
        }
        write(ctx, e.status(), e.body());
    }

    /**
     * One line per unexpected failure: the request's id, its route and the exception's class. Never
     * the body, the path or the exception's message: any of them may quote the prompt.
     */
    static void logUnexpected(RoutingContext ctx, ApiError e) {
        if (e.unexpected() != null) {
            LOG.errorf("request %s (%s %s) failed: %s", requestId(ctx), ctx.request().method(), route(ctx),
                    e.unexpected().getName());
        }
    }

    /** This request's id, made on first use and sent back as {@code x-request-id}, as OpenAI does. */
    static String requestId(RoutingContext ctx) {
        String id = ctx.get("forge.request-id");
        if (id == null) {
            id = "req_" + UUID.randomUUID().toString().replace("-", "");
            ctx.put("forge.request-id", id);
            if (!ctx.response().headWritten()) {
                ctx.response().putHeader("x-request-id", id);
            }
        }
        return id;
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
