package dev.forgeline.gateway.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.contracts.ModelCard.RemoteBackend;
import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.gateway.models.ModelEntry;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.serving.EventStream;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Serves a model that its card places on a remote backend, so that clients always see the
 * gateway's OpenAI API. vLLM speaks that API already ({@code {url}/chat/completions},
 * {@code {url}/completions}, SSE when streaming): the body goes through with the backend's model
 * name and answers come back with ours. DJL Serving LMI takes the same chat body at
 * {@code {url}/invocations} but streams {@code chat.completion.chunk} objects as JSON lines, one per
 * line and no {@code [DONE]}: each line becomes an SSE event and the end of the body {@code [DONE]}.
 */
@ApplicationScoped
public class RemoteProxy {

    private static final Logger LOG = Logger.getLogger(RemoteProxy.class);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
            .version(HttpClient.Version.HTTP_1_1).build();

    @Inject
    GatewayConfig config;

    /** A non-streaming call: the backend's JSON with our model id. */
    public JsonNode call(ModelEntry model, String endpoint, ObjectNode body, ObjectMapper json) {
        HttpResponse<String> response = send(model, endpoint, body, json, HttpResponse.BodyHandlers.ofString());
        checkStatus(model, response.statusCode(), response.body(), json);
        try {
            JsonNode answer = json.readTree(response.body());
            if (answer instanceof ObjectNode o && o.has("model")) {
                o.put("model", model.id());
            }
            return answer;
        } catch (IOException e) {
            throw ApiError.upstream("The backend of '" + model.id() + "' sent an unreadable answer");
        }
    }

    /** A streaming call, relayed chunk by chunk; blocks the calling (worker) thread until the backend ends. */
    public void stream(ModelEntry model, String endpoint, ObjectNode body, ObjectMapper json, EventStream out) {
        HttpResponse<Stream<String>> response = send(model, endpoint, body, json, HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() >= 300) {
            String text = String.join("\n", response.body().toList());
            checkStatus(model, response.statusCode(), text, json);
        }
        boolean[] gone = {false};
        try (Stream<String> lines = response.body()) {
            out.onClose(() -> {
                gone[0] = true;
                lines.close(); // drops the backend connection, which frees its slot there
            });
            boolean lmi = model.remote().type() == RemoteBackend.Type.DJL_LMI;
            Iterator<String> it = lines.iterator();
            while (it.hasNext() && !gone[0]) {
                String line = it.next().strip();
                String payload;
                if (lmi) {
                    payload = line;
                } else if (line.startsWith("data:")) {
                    payload = line.substring(5).strip();
                } else {
                    continue; // blank separators, comments, event: lines
                }
                if (payload.isEmpty()) {
                    continue;
                }
                if (payload.equals("[DONE]")) {
                    break;
                }
                JsonNode chunk = json.readTree(payload);
                if (chunk instanceof ObjectNode o && o.has("model")) {
                    o.put("model", model.id());
                }
                out.send(chunk);
            }
            if (!gone[0]) {
                out.done();
            }
        } catch (IOException | UncheckedIOException e) {
            if (!gone[0]) {
                LOG.warnf("stream from the backend of %s broke: %s", model.id(), e.getMessage());
                out.fail(ApiError.upstream("The backend of '" + model.id() + "' broke off the stream"));
            }
        }
    }

    private <T> HttpResponse<T> send(ModelEntry model, String endpoint, ObjectNode body, ObjectMapper json,
            HttpResponse.BodyHandler<T> handler) {
        RemoteBackend remote = model.remote();
        ObjectNode copy = body.deepCopy();
        copy.put("model", remote.model());
        String base = remote.url().endsWith("/") ? remote.url().substring(0, remote.url().length() - 1) : remote.url();
        String path = remote.type() == RemoteBackend.Type.DJL_LMI ? "/invocations" : "/" + endpoint;
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(config.remoteTimeout())
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(json.writeValueAsString(copy)))
                    .build();
            return http.send(request, handler);
        } catch (IOException e) {
            LOG.warnf("backend of %s unreachable: %s", model.id(), e.getMessage());
            throw ApiError.unavailable("The backend of '" + model.id() + "' cannot be reached");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.unavailable("interrupted");
        }
    }

    /** A backend's 4xx in OpenAI's shape passes through as it is; anything else is a 502. */
    private static void checkStatus(ModelEntry model, int status, String body, ObjectMapper json) {
        if (status < 300) {
            return;
        }
        if (status >= 400 && status < 500) {
            try {
                JsonNode error = json.readTree(body).path("error");
                if (error.isObject()) {
                    throw new ApiError(status, error.path("type").asText("invalid_request_error"),
                            error.path("message").asText("rejected by the backend"),
                            error.path("param").isTextual() ? error.get("param").asText() : null,
                            error.path("code").isTextual() ? error.get("code").asText() : null, null);
                }
            } catch (IOException ignored) {
                // not JSON: a plain 502 below
            }
        }
        throw ApiError.upstream("The backend of '" + model.id() + "' answered with status " + status);
    }
}
