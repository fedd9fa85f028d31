package dev.forgeline.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.contracts.ContractsJson;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/** The gateway's OpenAI API as the CLI uses it: the model list and streamed chat completions. */
final class GatewayClient {
    /** One turn of a conversation, as the chat API names it. */
    record Message(String role, String content) {}

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI base;
    private final String apiKey;

    GatewayClient(URI base, String apiKey) {
        this.base = base;
        this.apiKey = apiKey;
    }

    URI base() {
        return base;
    }

    /** The ids {@code GET /v1/models} lists. */
    List<String> models() throws InterruptedException {
        HttpResponse<String> r = send(request("v1/models").GET().build(), HttpResponse.BodyHandlers.ofString());
        JsonNode body = readTree(r.body());
        if (r.statusCode() != 200) throw error(r.statusCode(), body);
        return body.path("data").findValuesAsText("id");
    }

    /**
     * Streams a chat completion: each piece of the answer to {@code onDelta} as it arrives; the whole answer returned.
     * An error the gateway answers (unknown model, bad request) becomes a {@link CliException}.
     */
    String chat(String model, List<Message> messages, int maxTokens, double temperature, Consumer<String> onDelta)
            throws InterruptedException {
        ObjectNode body = ContractsJson.mapper().createObjectNode().put("model", model).put("stream", true)
                .put("max_tokens", maxTokens).put("temperature", temperature);
        ArrayNode list = body.putArray("messages");
        for (Message m : messages) list.addObject().put("role", m.role()).put("content", m.content());
        HttpRequest req = request("v1/chat/completions").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        HttpResponse<Stream<String>> r = send(req, HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            throw error(r.statusCode(), readTree(String.join("\n", (Iterable<String>) r.body()::iterator)));
        }
        StringBuilder answer = new StringBuilder();
        for (Iterator<String> it = r.body().iterator(); it.hasNext(); ) {
            String line = it.next();
            if (!line.startsWith("data:")) continue;
            String data = line.substring(5).strip();
            if (data.equals("[DONE]")) break;
            JsonNode chunk = readTree(data);
            if (chunk.has("error")) throw error(500, chunk);
            String delta = chunk.path("choices").path(0).path("delta").path("content").asText("");
            if (!delta.isEmpty()) {
                answer.append(delta);
                onDelta.accept(delta);
            }
        }
        return answer.toString();
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofMinutes(5));
        if (apiKey != null && !apiKey.isBlank()) b.header("Authorization", "Bearer " + apiKey);
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler) throws InterruptedException {
        try {
            return http.send(req, handler);
        } catch (ConnectException e) {
            throw new CliException(Exit.UNREACHABLE, "no gateway at " + base + " (start it with ./forge up, or pass --gateway / FORGE_GATEWAY_URL)");
        } catch (IOException e) {
            throw new CliException(Exit.UNREACHABLE, "the gateway at " + base + " did not answer: " + e);
        }
    }

    private static JsonNode readTree(String s) {
        try {
            return ContractsJson.mapper().readTree(s);
        } catch (IOException e) {
            return ContractsJson.mapper().createObjectNode().put("raw", s);
        }
    }

    private static CliException error(int status, JsonNode body) {
        String message = body.path("error").path("message").asText(body.toString());
        int code = status == 404 ? Exit.NOT_FOUND : status == 400 || status == 422 ? Exit.USAGE
                : status == 401 || status == 403 ? Exit.USAGE : Exit.UNREACHABLE;
        return new CliException(code, "the gateway answered " + status + ": " + message);
    }
}
