package dev.forgeline.engine.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stand-in for the Hub's resolve endpoint on 127.0.0.1: answers HEAD and GET on
 * {@code /{org}/{name}/resolve/{revision}/{file}} with X-Repo-Commit and ETag, serves "LFS"
 * files by a redirect to {@code /cdn/{sha256}} with X-Linked-Etag/X-Linked-Size, honours Range,
 * and records every request.
 */
final class FakeHub implements AutoCloseable {

    record Request(String method, String path, String authorization, String range) {}

    static final class Repo {
        final String commit;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final Set<String> lfs = ConcurrentHashMap.newKeySet();
        String requiredToken;

        Repo(String commit) {
            this.commit = commit;
        }

        Repo file(String name, String text) {
            files.put(name, text.getBytes(StandardCharsets.UTF_8));
            return this;
        }

        Repo lfsFile(String name, byte[] content) {
            files.put(name, content);
            lfs.add(name);
            return this;
        }

        Repo gated(String token) {
            requiredToken = token;
            return this;
        }
    }

    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");

    final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final HttpServer server;

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    Repo repo(String id, String commit) {
        Repo repo = new Repo(commit);
        repos.put(id, repo);
        return repo;
    }

    List<Request> requestsTo(String pathPart) {
        return requests.stream().filter(r -> r.path().contains(pathPart)).toList();
    }

    @Override
    public void close() {
        server.stop(0);
    }

    static String sha256(byte[] content) {
        return HexFormat.of().formatHex(digest("SHA-256", content));
    }

    /** The git blob id, which the Hub uses as ETag of regular files. */
    static String gitSha1(byte[] content) {
        byte[] header = ("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(header, header.length + content.length);
        System.arraycopy(content, 0, all, header.length, content.length);
        return HexFormat.of().formatHex(digest("SHA-1", all));
    }

    private static byte[] digest(String algorithm, byte[] content) {
        try {
            return MessageDigest.getInstance(algorithm).digest(content);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getRawPath();
        requests.add(new Request(exchange.getRequestMethod(), path,
                exchange.getRequestHeaders().getFirst("Authorization"),
                exchange.getRequestHeaders().getFirst("Range")));
        try (exchange) {
            if (path.startsWith("/cdn/")) {
                serveCdn(exchange, path.substring("/cdn/".length()));
                return;
            }
            Matcher m = RESOLVE.matcher(path);
            if (!m.matches()) {
                error(exchange, 404, "EntryNotFound", "not a resolve URL");
                return;
            }
            Repo repo = repos.get(m.group(1));
            if (repo == null) {
                error(exchange, 404, "RepoNotFound", "Repository not found");
                return;
            }
            if (repo.requiredToken != null
                    && !("Bearer " + repo.requiredToken).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                error(exchange, 401, "GatedRepo", "Access to model " + m.group(1) + " is restricted");
                return;
            }
            String revision = m.group(2);
            if (!revision.equals("main") && !revision.equals(repo.commit)) {
                error(exchange, 404, "RevisionNotFound", "Invalid rev id: " + revision);
                return;
            }
            String file = m.group(3);
            byte[] content = repo.files.get(file);
            if (content == null) {
                error(exchange, 404, "EntryNotFound", file + " does not exist");
                return;
            }
            exchange.getResponseHeaders().set("X-Repo-Commit", repo.commit);
            if (repo.lfs.contains(file)) {
                String sha = sha256(content);
                exchange.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
                exchange.getResponseHeaders().set("X-Linked-Size", Long.toString(content.length));
                exchange.getResponseHeaders().set("ETag", "W/\"not-the-content-hash\"");
                exchange.getResponseHeaders().set("Location", endpoint() + "/cdn/" + sha);
                exchange.sendResponseHeaders(302, -1);
                return;
            }
            exchange.getResponseHeaders().set("ETag", "\"" + gitSha1(content) + "\"");
            body(exchange, content, null);
        }
    }

    private void serveCdn(HttpExchange exchange, String sha) throws IOException {
        for (Repo repo : repos.values()) {
            for (byte[] content : repo.files.values()) {
                if (sha256(content).equals(sha)) {
                    body(exchange, content, exchange.getRequestHeaders().getFirst("Range"));
                    return;
                }
            }
        }
        error(exchange, 404, "EntryNotFound", "no blob " + sha);
    }

    private static void body(HttpExchange exchange, byte[] content, String range) throws IOException {
        int from = 0;
        int status = 200;
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
            from = Integer.parseInt(range.substring(6, range.length() - 1));
            status = 206;
            exchange.getResponseHeaders().set("Content-Range",
                    "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        byte[] part = Arrays.copyOfRange(content, from, content.length);
        if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.getResponseHeaders().set("Content-Length", Integer.toString(part.length));
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, part.length == 0 ? -1 : part.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(part);
        }
    }

    private static void error(HttpExchange exchange, int status, String code, String message) throws IOException {
        exchange.getResponseHeaders().set("X-Error-Code", code);
        exchange.getResponseHeaders().set("X-Error-Message", message);
        exchange.sendResponseHeaders(status, -1);
    }
}
