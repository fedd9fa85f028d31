package dev.forgeline.gateway;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.config.ConfigProvider;

/** The running test gateway: its URL, the test API key, raw SSE reads. */
final class GatewayTestSupport {
    private GatewayTestSupport() {}

    /** Set in src/test/resources/application.properties as forge.gateway.api-keys. */
    static final String KEY = "sk-test-forgeline";

    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static String baseUrl() {
        int port = ConfigProvider.getConfig().getValue("quarkus.http.test-port", Integer.class);
        return "http://localhost:" + port;
    }

    static String v1() {
        return baseUrl() + "/v1";
    }

    static HttpRequest post(String path, String json) {
        return HttpRequest.newBuilder(URI.create(v1() + path))
                .header("Authorization", "Bearer " + KEY)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
    }

    /** A whole SSE response: its status and its lines. */
    record Sse(int status, List<String> lines, String retryAfter) {
        List<String> data() {
            return lines.stream().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        }
    }

    static Sse stream(String path, String json) throws IOException, InterruptedException {
        HttpResponse<java.io.InputStream> r = HTTP.send(post(path, json), HttpResponse.BodyHandlers.ofInputStream());
        List<String> lines = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                lines.add(line);
            }
        }
        return new Sse(r.statusCode(), lines, r.headers().firstValue("Retry-After").orElse(null));
    }
}
