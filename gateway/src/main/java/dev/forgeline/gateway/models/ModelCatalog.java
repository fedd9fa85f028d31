package dev.forgeline.gateway.models;

import dev.forgeline.contracts.ModelCard;
import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.service.ForgeConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * The models the gateway offers: the configured base models (each folder of
 * {@code forge.base-models} under its name, and Hub ids), and the registry's approved
 * models, which {@link RegistryFollower} adds and removes while the gateway runs.
 */
@ApplicationScoped
public class ModelCatalog {

    private static final Logger LOG = Logger.getLogger(ModelCatalog.class);

    private final Map<String, ModelEntry> base = new ConcurrentHashMap<>();
    private final Map<String, ModelEntry> registry = new ConcurrentHashMap<>();
    private final long started = System.currentTimeMillis() / 1000;

    @Inject
    GatewayConfig config;

    @Inject
    ForgeConfig forge;

    @jakarta.annotation.PostConstruct
    void init() {
        baseModelsFolder().ifPresent(this::scan);
        config.hubModels().orElse(List.of()).forEach(id -> base.put(id, new ModelEntry(id, started,
                id.contains("/") ? id.substring(0, id.indexOf('/')) : "huggingface", null, null, id, null)));
        LOG.infof("base models: %s", base.keySet());
    }

    /** {@code forge.base-models} ({@link ForgeConfig#baseModels()}), else {@code $FORGE_SHARED_DIR/models}, else {@code shared/models} found by walking up from the working directory. */
    Optional<Path> baseModelsFolder() {
        Optional<Path> configured = forge.baseModels();
        if (configured.isPresent()) {
            return configured;
        }
        String shared = System.getenv("FORGE_SHARED_DIR");
        if (shared != null && !shared.isBlank() && Files.isDirectory(Path.of(shared, "models"))) {
            return Optional.of(Path.of(shared, "models"));
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("models");
            if (Files.isDirectory(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    private void scan(Path folder) {
        try (Stream<Path> dirs = Files.list(folder)) {
            dirs.filter(d -> Files.isRegularFile(d.resolve("config.json")))
                    .forEach(d -> {
                        String id = d.getFileName().toString();
                        base.put(id, new ModelEntry(id, started, "forgeline", null, d, null, null));
                    });
        } catch (IOException e) {
            LOG.warnf("cannot list base models in %s: %s", folder, e.getMessage());
        }
    }

    public Optional<ModelEntry> find(String id) {
        ModelEntry e = registry.get(id);
        return Optional.ofNullable(e != null ? e : base.get(id));
    }

    public List<ModelEntry> all() {
        Map<String, ModelEntry> merged = new java.util.TreeMap<>(base);
        merged.putAll(registry);
        return merged.values().stream().sorted(Comparator.comparing(ModelEntry::id)).toList();
    }

    /** A registry card: approved (or base) cards are served, anything else withdraws the id. */
    public void apply(ModelCard card) {
        if (card.status() != ModelCard.Status.APPROVED && card.status() != ModelCard.Status.BASE) {
            withdraw(card.id());
            return;
        }
        if (!card.validate().isEmpty()) {
            LOG.warnf("ignoring invalid model card %s: %s", card.id(), card.validate());
            return;
        }
        long created = card.createdAt() != null ? card.createdAt().getEpochSecond() : System.currentTimeMillis() / 1000;
        String parent = card.parent() != null ? card.parent() : card.baseModel();
        Path dir = card.remote() == null ? artifactDir(card.artifactUri()) : null;
        registry.put(card.id(), new ModelEntry(card.id(), created, "forgeline", parent, dir, null, card.remote()));
        LOG.infof("model %s is now served (%s)", card.id(), card.remote() != null ? "remote " + card.remote().type() : dir);
    }

    public void withdraw(String id) {
        if (registry.remove(id) != null) {
            LOG.infof("model %s withdrawn from the registry", id);
        }
    }

    /** {@code file:/x}, {@code file:///x} or a plain path. */
    static Path artifactDir(String uri) {
        if (uri.startsWith("file:/")) {
            return Path.of(URI.create(uri));
        }
        if (uri.startsWith("file:")) {
            return Path.of(uri.substring("file:".length()));
        }
        return Path.of(uri);
    }

    Collection<ModelEntry> registryEntries() {
        return registry.values();
    }
}
