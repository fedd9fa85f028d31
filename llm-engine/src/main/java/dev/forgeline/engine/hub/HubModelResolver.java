package dev.forgeline.engine.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Turns a model name into a local folder in Hugging Face layout: an existing folder is used as
 * it is; anything else is read as a Hub id ({@code org/name[@revision]}) whose model files are
 * downloaded once into the shared Hugging Face cache ({@link HubCache}).
 *
 * <p>The protocol is the one huggingface_hub speaks: {@code HEAD {endpoint}/{repo}/resolve/{rev}/{file}}
 * answers with {@code X-Repo-Commit} (the commit the revision points to) and {@code ETag}, or for
 * LFS files a redirect to the CDN with {@code X-Linked-Etag} (the sha256) and
 * {@code X-Linked-Size}; then a GET fetches the bytes into {@code blobs/{etag}}. All files of one
 * download are read from the same commit.
 *
 * <p>Unlike huggingface_hub, a revision already in the cache with all its files is served without
 * asking the server whether the branch moved: a base model for training should not change under
 * a running pipeline. Pin a commit ({@code org/name@<sha>}) or clear {@code refs/} to update.
 */
public final class HubModelResolver {

    private static final Logger log = LoggerFactory.getLogger(HubModelResolver.class);

    /** Files a model folder must have. */
    static final List<String> REQUIRED = List.of("config.json", "tokenizer.json", "tokenizer_config.json");
    /** Files taken when the model has them. */
    static final List<String> OPTIONAL = List.of("generation_config.json", "special_tokens_map.json",
            "chat_template.jinja");
    static final String SINGLE_WEIGHTS = "model.safetensors";
    static final String WEIGHTS_INDEX = "model.safetensors.index.json";

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final int MAX_REDIRECTS = 5;
    private static final ConcurrentHashMap<Path, Object> IN_PROCESS_LOCKS = new ConcurrentHashMap<>();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HubSettings settings;
    private final HttpClient http;

    public HubModelResolver(HubSettings settings) {
        this(settings, HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER) // redirects are read, see fetchMetadata
                .connectTimeout(Duration.ofSeconds(30))
                .build());
    }

    HubModelResolver(HubSettings settings, HttpClient http) {
        this.settings = settings;
        this.http = http;
    }

    /** A resolver configured from the process environment (HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
    public static HubModelResolver fromEnvironment() {
        return new HubModelResolver(HubSettings.fromEnvironment());
    }

    public HubSettings settings() {
        return settings;
    }

    /**
     * Returns the folder of a model named by a local path or a Hub id, downloading it first when
     * needed.
     */
    public Path resolve(String nameOrPath) throws IOException {
        Path local = Path.of(nameOrPath);
        if (Files.isDirectory(local)) {
            return local;
        }
        HubModelId id = HubModelId.parse(nameOrPath).orElseThrow(() -> new HubException(
                HubException.Reason.NOT_FOUND, "'" + nameOrPath + "' is neither a local folder nor a"
                + " Hugging Face model id (org/name or org/name@revision)"));
        return resolve(id);
    }

    /** Returns the snapshot folder of a Hub model, downloading what the cache lacks. */
    public Path resolve(HubModelId id) throws IOException {
        HubCache cache = new HubCache(settings.cacheDir(), id);
        Optional<String> cachedCommit = cache.cachedCommit();
        if (cachedCommit.isPresent()) {
            List<String> missing = missingFiles(cache, cachedCommit.get(), !settings.offline());
            if (missing.isEmpty()) {
                return cache.snapshot(cachedCommit.get());
            }
            if (settings.offline()) {
                throw notCached(id, "missing " + missing);
            }
        } else if (settings.offline()) {
            throw notCached(id, "no snapshot of this revision");
        }
        return download(id, cache);
    }

    private HubException notCached(HubModelId id, String detail) {
        return new HubException(HubException.Reason.NOT_CACHED, "HF_HUB_OFFLINE is set and model " + id
                + " is not in the Hugging Face cache " + settings.cacheDir() + " (" + detail + "). Download it"
                + " once with network access, or unset HF_HUB_OFFLINE.");
    }

    /**
     * Files the cached snapshot lacks. With {@code strict}, an optional file counts as missing
     * unless it is present or known not to exist ({@code .no_exist}), so an interrupted download
     * is completed; offline, only what a model needs counts.
     */
    private List<String> missingFiles(HubCache cache, String commit, boolean strict) throws IOException {
        List<String> missing = new ArrayList<>();
        for (String file : REQUIRED) {
            if (!Files.exists(cache.pointer(commit, file))) {
                missing.add(file);
            }
        }
        Path index = cache.pointer(commit, WEIGHTS_INDEX);
        if (Files.exists(index)) {
            for (String shard : shards(index)) {
                if (!Files.exists(cache.pointer(commit, shard))) {
                    missing.add(shard);
                }
            }
        } else if (!Files.exists(cache.pointer(commit, SINGLE_WEIGHTS))) {
            missing.add(SINGLE_WEIGHTS);
        }
        if (strict) {
            for (String file : OPTIONAL) {
                if (!Files.exists(cache.pointer(commit, file)) && !Files.exists(cache.noExist(commit, file))) {
                    missing.add(file);
                }
            }
        }
        return missing;
    }

    private Path download(HubModelId id, HubCache cache) throws IOException {
        log.info("fetching model {} from {}", id, settings.endpoint());
        // The first answer names the commit; every later file is read at that commit, so a
        // branch that moves during the download cannot mix two versions.
        String commit = fetch(id, cache, id.revision(), REQUIRED.get(0), true).commit();
        for (String file : REQUIRED.subList(1, REQUIRED.size())) {
            fetch(id, cache, commit, file, true);
        }
        for (String file : OPTIONAL) {
            fetch(id, cache, commit, file, false);
        }
        if (fetch(id, cache, commit, SINGLE_WEIGHTS, false).missing()) {
            if (fetch(id, cache, commit, WEIGHTS_INDEX, false).missing()) {
                throw new HubException(HubException.Reason.NOT_FOUND, "model " + id + " has no safetensors"
                        + " weights (neither " + SINGLE_WEIGHTS + " nor " + WEIGHTS_INDEX + ")");
            }
            for (String shard : shards(cache.pointer(commit, WEIGHTS_INDEX))) {
                fetch(id, cache, commit, shard, true);
            }
        }
        cache.writeRef(commit);
        return cache.snapshot(commit);
    }

    private static Set<String> shards(Path index) throws IOException {
        JsonNode weightMap = JSON.readTree(index.toFile()).path("weight_map");
        Set<String> shards = new LinkedHashSet<>();
        weightMap.forEach(file -> shards.add(file.asText()));
        for (String shard : shards) {
            if (shard.startsWith("/") || shard.contains("..")) {
                throw new HubException(HubException.Reason.CORRUPT, "unsafe shard name in " + index + ": " + shard);
            }
        }
        return shards;
    }

    /** What a fetch found: the commit it was served from, or that the file does not exist. */
    private record Fetched(String commit, boolean missing) {}

    private Fetched fetch(HubModelId id, HubCache cache, String revision, String file, boolean required)
            throws IOException {
        URI url = resolveUrl(id, revision, file);
        Metadata meta = fetchMetadata(id, url, file, required);
        if (meta == null) { // optional and absent
            cache.markMissing(revision, file);
            return new Fetched(revision, true);
        }
        if (Files.exists(cache.pointer(meta.commit(), file))) {
            return new Fetched(meta.commit(), false);
        }
        Path blob = cache.blob(meta.etag());
        if (!Files.exists(blob)) {
            Path lockFile = cache.lock(meta.etag());
            Files.createDirectories(lockFile.getParent());
            Files.createDirectories(blob.getParent());
            synchronized (IN_PROCESS_LOCKS.computeIfAbsent(lockFile, k -> new Object())) {
                try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE);
                     FileLock ignored = channel.lock()) {
                    if (!Files.exists(blob)) { // another process may have finished it meanwhile
                        downloadBlob(id, file, meta, cache.incomplete(meta.etag()), blob);
                    }
                }
            }
        }
        cache.link(meta.commit(), file, blob);
        return new Fetched(meta.commit(), false);
    }

    private URI resolveUrl(HubModelId id, String revision, String file) {
        String path = "/" + id.repo() + "/resolve/" + URLEncoder.encode(revision, StandardCharsets.UTF_8)
                + "/" + encodePath(file);
        return URI.create(settings.endpoint() + path);
    }

    private static String encodePath(String file) {
        List<String> parts = new ArrayList<>();
        for (String part : file.split("/")) {
            parts.add(URLEncoder.encode(part, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return String.join("/", parts);
    }

    /** Headers of a resolve URL: commit, etag, size, and where the bytes are. */
    private record Metadata(String commit, String etag, long size, URI location) {}

    /**
     * HEAD on the resolve URL. Relative redirects (a renamed repo) are followed; an absolute one
     * is the CDN and is not: its response already carries the LFS headers.
     */
    private Metadata fetchMetadata(HubModelId id, URI url, String file, boolean required) throws IOException {
        URI current = url;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpResponse<Void> response = send(request(current).method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.discarding());
            int status = response.statusCode();
            Optional<String> location = response.headers().firstValue("Location");
            if (status >= 300 && status < 400 && location.isPresent() && location.get().startsWith("/")) {
                current = current.resolve(location.get());
                continue;
            }
            if (status == 404 && !required && !"RepoNotFound".equals(errorCode(response))) {
                return null;
            }
            if (status >= 400) {
                throw httpError(id, file, response);
            }
            String commit = response.headers().firstValue("X-Repo-Commit").orElse(null);
            String etag = response.headers().firstValue("X-Linked-Etag")
                    .or(() -> response.headers().firstValue("ETag")).map(HubModelResolver::normalizeEtag)
                    .orElse(null);
            if (commit == null || etag == null || etag.isEmpty()) {
                throw new HubException(HubException.Reason.SERVER, url + " answered without X-Repo-Commit or"
                        + " ETag headers; is " + settings.endpoint() + " a Hugging Face Hub endpoint?");
            }
            long size = response.headers().firstValue("X-Linked-Size")
                    .or(() -> response.headers().firstValue("Content-Length"))
                    .map(Long::parseLong).orElse(-1L);
            URI bytes = location.map(current::resolve).orElse(current);
            return new Metadata(commit, etag, size, bytes);
        }
        throw new HubException(HubException.Reason.SERVER, "too many redirects for " + url);
    }

    private static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        return e.replace("\"", "");
    }

    /** GET into {@code .incomplete}, resuming what a previous attempt left, then move into place. */
    private void downloadBlob(HubModelId id, String file, Metadata meta, Path incomplete, Path blob)
            throws IOException {
        long have = Files.exists(incomplete) ? Files.size(incomplete) : 0;
        if (meta.size() >= 0 && have > meta.size()) { // not a prefix of this file: start over
            Files.delete(incomplete);
            have = 0;
        }
        URI current = meta.location();
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder request = request(current).GET();
            if (have > 0) {
                request.header("Range", "bytes=" + have + "-");
                log.info("resuming {} of {} at byte {}", file, id, have);
            } else {
                log.info("downloading {} of {} ({} bytes)", file, id, meta.size());
            }
            HttpResponse<InputStream> response = send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            int status = response.statusCode();
            Optional<String> location = response.headers().firstValue("Location");
            if (status >= 300 && status < 400 && location.isPresent()) {
                response.body().close();
                current = current.resolve(location.get());
                continue;
            }
            if (status == 416 && have > 0 && have == meta.size()) { // nothing left to fetch
                response.body().close();
                break;
            }
            if (status >= 400) {
                response.body().close();
                throw httpError(id, file, response);
            }
            boolean append = status == 206 && have > 0;
            try (InputStream in = response.body();
                 OutputStream out = Files.newOutputStream(incomplete, StandardOpenOption.CREATE,
                         StandardOpenOption.WRITE,
                         append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                in.transferTo(out);
            }
            break;
        }
        verify(file, meta, incomplete);
        Files.move(incomplete, blob, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Size always when known; content for LFS files, whose etag is their sha256. */
    private static void verify(String file, Metadata meta, Path incomplete) throws IOException {
        long size = Files.size(incomplete);
        if (meta.size() >= 0 && size != meta.size()) {
            throw new HubException(HubException.Reason.CORRUPT, "download of " + file + " stopped at " + size
                    + " of " + meta.size() + " bytes; run again to resume");
        }
        if (SHA256.matcher(meta.etag()).matches()) {
            String actual = sha256(incomplete);
            if (!actual.equals(meta.etag())) {
                Files.delete(incomplete);
                throw new HubException(HubException.Reason.CORRUPT, "checksum of " + file + " is " + actual
                        + ", expected " + meta.etag() + "; the partial file was removed, run again");
            }
        }
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A request with the token, sent only to the endpoint's own host: a presigned CDN URL needs
     * none and must not receive it.
     */
    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri)
                .header("User-Agent", "forgeline-llm-engine")
                .header("Accept-Encoding", "identity"); // sizes and ranges refer to the raw bytes
        if (settings.token().isPresent() && sameOrigin(uri, settings.endpoint())) {
            builder.header("Authorization", "Bearer " + settings.token().get());
        }
        return builder;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost().equalsIgnoreCase(b.getHost())
                && a.getPort() == b.getPort();
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        try {
            return http.send(request, handler);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException(HubException.Reason.SERVER, "interrupted while fetching " + request.uri(), e);
        } catch (IOException e) {
            throw new HubException(HubException.Reason.SERVER, "cannot reach " + request.uri() + ": " + e
                    + (settings.offline() ? "" : " (set HF_HUB_OFFLINE=1 to use the cache only)"), e);
        }
    }

    private static String errorCode(HttpResponse<?> response) {
        return response.headers().firstValue("X-Error-Code").orElse("");
    }

    private HubException httpError(HubModelId id, String file, HttpResponse<?> response) {
        int status = response.statusCode();
        String code = errorCode(response);
        String serverMessage = response.headers().firstValue("X-Error-Message").map(m -> ": " + m).orElse("");
        if (status == 401 || status == 403) {
            // The Hub answers 401 also for a repo that does not exist, to hide private ones.
            String token = settings.token().isPresent()
                    ? "the HF_TOKEN in use was refused or lacks access"
                    : "no HF_TOKEN is set";
            return new HubException(HubException.Reason.ACCESS_DENIED, "access to model " + id + " denied (HTTP "
                    + status + serverMessage + "). It may be gated or private, or may not exist: accept its"
                    + " license on the model page and set HF_TOKEN to a token with read access ("
                    + token + ").");
        }
        if (status == 404) {
            String what = switch (code.toLowerCase(Locale.ROOT)) {
                case "reponotfound" -> "no model " + id.repo() + " on " + settings.endpoint();
                case "revisionnotfound" -> "no revision '" + id.revision() + "' in model " + id.repo();
                default -> "file " + file + " not found in model " + id;
            };
            return new HubException(HubException.Reason.NOT_FOUND, what + " (HTTP 404" + serverMessage + ")");
        }
        return new HubException(HubException.Reason.SERVER, "fetching " + file + " of " + id + " failed: HTTP "
                + status + serverMessage);
    }
}
