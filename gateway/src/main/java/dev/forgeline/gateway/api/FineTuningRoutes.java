package dev.forgeline.gateway.api;

import static dev.forgeline.gateway.api.OpenAiRoutes.JSON;
import static dev.forgeline.gateway.api.OpenAiRoutes.fail;
import static dev.forgeline.gateway.api.OpenAiRoutes.ok;

import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.gateway.finetune.FineTuningJobs;
import dev.forgeline.gateway.finetune.TrainingFiles;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.FilesProtocol.FileDeleted;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobRequest;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * OpenAI's Files ({@code /v1/files}) and fine-tuning ({@code /v1/fine_tuning/jobs}) APIs. Like
 * {@link OpenAiRoutes}, which registers these routes among its own (before its catch-all 404) and
 * authenticates every {@code /v1} request: parse into a protocol record, validate, call
 * {@link TrainingFiles} or {@link FineTuningJobs}, write the answer. Handlers that touch the
 * artifact store or Kafka run off the event loop.
 */
@ApplicationScoped
public class FineTuningRoutes {

    /** Room for the multipart framing and the purpose field around the file itself. */
    static final long MULTIPART_OVERHEAD = 64 * 1024;
    private static final String UPLOAD = "forge.upload";
    private static final String ID = "(?<id>[^/]+)";

    @Inject
    GatewayConfig config;

    @Inject
    TrainingFiles files;

    @Inject
    FineTuningJobs jobs;

    /** The routes and the methods they answer, for {@link OpenAiRoutes}' 405s and log lines. */
    static final List<OpenAiRoutes.RouteSpec> SPECS = List.of(
            OpenAiRoutes.RouteSpec.of("/v1/files", "/v1/files", "GET", "POST"),
            OpenAiRoutes.RouteSpec.of("/v1/files/{file_id}", "/v1/files/[^/]+", "GET", "DELETE"),
            OpenAiRoutes.RouteSpec.of("/v1/files/{file_id}/content", "/v1/files/[^/]+/content", "GET"),
            OpenAiRoutes.RouteSpec.of("/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs", "GET", "POST"),
            OpenAiRoutes.RouteSpec.of("/v1/fine_tuning/jobs/{id}", "/v1/fine_tuning/jobs/[^/]+", "GET"),
            OpenAiRoutes.RouteSpec.of("/v1/fine_tuning/jobs/{id}/events", "/v1/fine_tuning/jobs/[^/]+/events", "GET"),
            OpenAiRoutes.RouteSpec.of("/v1/fine_tuning/jobs/{id}/checkpoints", "/v1/fine_tuning/jobs/[^/]+/checkpoints", "GET"),
            OpenAiRoutes.RouteSpec.of("/v1/fine_tuning/jobs/{id}/cancel", "/v1/fine_tuning/jobs/[^/]+/cancel", "POST"));

    void register(Router router, BodyHandler jsonBodies) {
        router.post("/v1/files").order(-8).handler(this::readUpload);
        router.post("/v1/fine_tuning/jobs").order(-9).handler(OpenAiRoutes::requireJson);
        router.post("/v1/fine_tuning/jobs").order(-8).handler(jsonBodies);
        router.postWithRegex("/v1/fine_tuning/jobs/[^/]+/cancel").order(-9).handler(OpenAiRoutes::requireJson);
        router.postWithRegex("/v1/fine_tuning/jobs/[^/]+/cancel").order(-8).handler(jsonBodies);

        router.post("/v1/files").blockingHandler(this::upload, false);
        router.get("/v1/files").blockingHandler(this::listFiles, false);
        router.getWithRegex("/v1/files/" + ID + "/content").blockingHandler(this::fileContent, false);
        router.getWithRegex("/v1/files/" + ID).blockingHandler(this::getFile, false);
        router.deleteWithRegex("/v1/files/" + ID).blockingHandler(this::deleteFile, false);

        router.post("/v1/fine_tuning/jobs").blockingHandler(this::createJob, false);
        router.get("/v1/fine_tuning/jobs").blockingHandler(this::listJobs, false);
        router.getWithRegex("/v1/fine_tuning/jobs/" + ID + "/events").blockingHandler(this::events, false);
        router.getWithRegex("/v1/fine_tuning/jobs/" + ID + "/checkpoints").blockingHandler(this::checkpoints, false);
        router.postWithRegex("/v1/fine_tuning/jobs/" + ID + "/cancel").blockingHandler(this::cancel, false);
        router.getWithRegex("/v1/fine_tuning/jobs/" + ID).blockingHandler(this::getJob, false);
    }

    // ---------------------------------------------------------------- files

    /**
     * Reads a multipart upload into memory, up to the file limit plus the framing; a larger body is
     * drained (so the client reads its 413 instead of a reset) and, past four times that, cut off.
     */
    private void readUpload(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        String media = type == null ? null : type.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        if (!"multipart/form-data".equals(media)) {
            fail(ctx, ApiError.unsupportedMediaType(media, "multipart/form-data"));
            return;
        }
        String boundary = MultipartForm.boundary(type);
        if (boundary == null) {
            fail(ctx, ApiError.invalid(null, "The multipart/form-data Content-Type names no boundary"));
            return;
        }
        long cap = config.filesMaxBytes() + MULTIPART_OVERHEAD;
        HttpServerRequest request = ctx.request();
        if (request.isEnded()) {
            ctx.put(UPLOAD, new byte[0]);
            ctx.next();
            return;
        }
        Buffer body = Buffer.buffer();
        long[] received = {0};
        request.handler(chunk -> {
            received[0] += chunk.length();
            if (received[0] <= cap) {
                body.appendBuffer(chunk);
            } else if (received[0] > 4 * cap) {
                fail(ctx, ApiError.tooLarge(cap));
                request.connection().close();
            }
        });
        request.exceptionHandler(e -> fail(ctx, ApiError.invalid(null, "The request body could not be read")));
        request.endHandler(v -> {
            if (received[0] > cap) {
                fail(ctx, ApiError.fileTooLarge(config.filesMaxBytes()));
            } else {
                ctx.put(UPLOAD, body.getBytes());
                ctx.next();
            }
        });
        request.resume();
    }

    private void upload(RoutingContext ctx) {
        handle(ctx, () -> {
            String type = ctx.request().getHeader("Content-Type");
            Map<String, MultipartForm.Part> form = MultipartForm.parse(ctx.get(UPLOAD), MultipartForm.boundary(type));
            MultipartForm.Part file = form.get("file");
            if (file == null) {
                throw ApiError.invalid("file", "'file' is required");
            }
            if (file.data().length > config.filesMaxBytes()) {
                throw ApiError.fileTooLarge(config.filesMaxBytes());
            }
            MultipartForm.Part purpose = form.get("purpose");
            return files.upload(file.filename(), purpose == null ? null : purpose.text().strip(), file.data());
        });
    }

    private void listFiles(RoutingContext ctx) {
        handle(ctx, () -> {
            String order = query(ctx, "order");
            if (order != null && !order.equals("asc") && !order.equals("desc")) {
                throw ApiError.invalid("order", "'order' must be 'asc' or 'desc'");
            }
            return files.list(query(ctx, "purpose"), query(ctx, "after"), limit(ctx, 10_000, 10_000), "asc".equals(order));
        });
    }

    private void getFile(RoutingContext ctx) {
        handle(ctx, () -> files.get(ctx.pathParam("id")));
    }

    private void deleteFile(RoutingContext ctx) {
        handle(ctx, () -> {
            String id = ctx.pathParam("id");
            files.delete(id);
            return FileDeleted.of(id);
        });
    }

    /** The file's bytes as uploaded. */
    private void fileContent(RoutingContext ctx) {
        try {
            byte[] content = files.content(ctx.pathParam("id"));
            if (!ctx.response().ended()) {
                ctx.response().setStatusCode(200).putHeader("Content-Type", "application/octet-stream")
                        .end(Buffer.buffer(content));
            }
        } catch (Exception e) {
            fail(ctx, ApiError.of(e));
        }
    }

    // ---------------------------------------------------------------- fine-tuning jobs

    private void createJob(RoutingContext ctx) {
        handle(ctx, () -> jobs.create(JSON.treeToValue(OpenAiRoutes.body(ctx), FineTuningJobRequest.class)));
    }

    private void listJobs(RoutingContext ctx) {
        handle(ctx, () -> {
            Map<String, String> metadata = new LinkedHashMap<>();
            queryParams(ctx).forEach((k, v) -> {
                if (k.startsWith("metadata[") && k.endsWith("]")) {
                    metadata.put(k.substring("metadata[".length(), k.length() - 1), v);
                }
            });
            return jobs.list(query(ctx, "after"), limit(ctx, 20, 100), metadata);
        });
    }

    private void getJob(RoutingContext ctx) {
        handle(ctx, () -> jobs.get(ctx.pathParam("id")));
    }

    private void events(RoutingContext ctx) {
        handle(ctx, () -> jobs.events(ctx.pathParam("id"), query(ctx, "after"), limit(ctx, 20, 100)));
    }

    private void checkpoints(RoutingContext ctx) {
        handle(ctx, () -> jobs.checkpoints(ctx.pathParam("id"), query(ctx, "after"), limit(ctx, 10, 100)));
    }

    private void cancel(RoutingContext ctx) {
        handle(ctx, () -> jobs.cancel(ctx.pathParam("id")));
    }

    // ---------------------------------------------------------------- plumbing

    @FunctionalInterface
    private interface Answer {
        Object get() throws Exception;
    }

    private static void handle(RoutingContext ctx, Answer answer) {
        try {
            ok(ctx, answer.get());
        } catch (Exception e) {
            fail(ctx, ApiError.of(e));
        }
    }

    /** The query's parameters, first value each; a query that cannot be decoded is the client's 400. */
    private static Map<String, String> queryParams(RoutingContext ctx) {
        try {
            Map<String, String> out = new LinkedHashMap<>();
            ctx.queryParams().forEach(e -> out.putIfAbsent(e.getKey(), e.getValue()));
            return out;
        } catch (RuntimeException e) {
            throw ApiError.invalid(null, "The query string cannot be read");
        }
    }

    private static String query(RoutingContext ctx, String name) {
        return queryParams(ctx).get(name);
    }

    private static int limit(RoutingContext ctx, int defaultLimit, int max) {
        String v = query(ctx, "limit");
        if (v == null) {
            return defaultLimit;
        }
        try {
            int n = Integer.parseInt(v);
            if (n >= 1 && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiError.invalid("limit", "'limit' must be an integer in [1, " + max + "]");
    }
}
