package dev.forgeline.engine.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where and how to reach the Hugging Face Hub, read from the same environment variables as
 * huggingface_hub so that a cache filled by Python tools is shared.
 *
 * @param cacheDir the hub cache: {@code HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else
 *     {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub}
 * @param endpoint {@code HF_ENDPOINT}, else the public Hub
 * @param token {@code HF_TOKEN}, else the token file ({@code HF_TOKEN_PATH} or {@code $HF_HOME/token})
 * @param offline {@code HF_HUB_OFFLINE} set to 1/true/yes/on: serve from the cache, never connect
 */
public record HubSettings(Path cacheDir, URI endpoint, Optional<String> token, boolean offline) {

    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");
    private static final Set<String> TRUE = Set.of("1", "true", "yes", "on");

    public HubSettings {
        String base = endpoint.toString();
        if (base.endsWith("/")) { // URLs are built as endpoint + "/" + repo
            endpoint = URI.create(base.substring(0, base.length() - 1));
        }
        token = token.map(String::strip).filter(t -> !t.isEmpty());
    }

    /** Settings from the process environment. */
    public static HubSettings fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** Settings from the given variables (tests pass their own map). */
    public static HubSettings fromEnvironment(Map<String, String> env) {
        Path home = Path.of(System.getProperty("user.home"));
        Path hfHome = nonBlank(env.get("HF_HOME")).map(Path::of).orElseGet(() ->
                nonBlank(env.get("XDG_CACHE_HOME")).map(Path::of).orElse(home.resolve(".cache"))
                        .resolve("huggingface"));
        Path cache = nonBlank(env.get("HF_HUB_CACHE")).map(Path::of).orElse(hfHome.resolve("hub"));
        URI endpoint = nonBlank(env.get("HF_ENDPOINT")).map(URI::create).orElse(DEFAULT_ENDPOINT);
        Optional<String> token = nonBlank(env.get("HF_TOKEN"))
                .or(() -> nonBlank(env.get("HUGGING_FACE_HUB_TOKEN")))
                .or(() -> readTokenFile(nonBlank(env.get("HF_TOKEN_PATH")).map(Path::of)
                        .orElse(hfHome.resolve("token"))));
        boolean offline = nonBlank(env.get("HF_HUB_OFFLINE"))
                .map(v -> TRUE.contains(v.toLowerCase(Locale.ROOT))).orElse(false);
        return new HubSettings(cache, endpoint, token, offline);
    }

    public HubSettings withOffline(boolean offline) {
        return new HubSettings(cacheDir, endpoint, token, offline);
    }

    private static Optional<String> nonBlank(String value) {
        return Optional.ofNullable(value).map(String::strip).filter(v -> !v.isEmpty());
    }

    private static Optional<String> readTokenFile(Path file) {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return nonBlank(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Hugging Face token file " + file, e);
        }
    }

    @Override
    public String toString() { // never print the token
        return "HubSettings[cacheDir=" + cacheDir + ", endpoint=" + endpoint + ", token="
                + (token.isPresent() ? "<set>" : "<none>") + ", offline=" + offline + "]";
    }
}
