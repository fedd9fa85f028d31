package dev.forgeline.deploy;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.introspect.Annotated;
import com.fasterxml.jackson.databind.introspect.JacksonAnnotationIntrospector;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Renders {@code k8s/overlays/*} with {@code kubectl kustomize} and parses every object strictly
 * into its typed model: fabric8's Kubernetes model for the built-in kinds, Strimzi's API model for
 * Kafka, KafkaNodePool and KafkaTopic. Both models keep unknown fields in an "additional
 * properties" map through {@code @JsonAnySetter}, so Jackson's FAIL_ON_UNKNOWN_PROPERTIES alone
 * would accept a misspelt field; the mapper here switches every any-setter off, so an unknown
 * field fails the parse.
 */
final class Manifests {
    private Manifests() {}

    static final List<String> OVERLAYS = List.of("local", "gpu", "prod");

    /** The services and their config files; the port each listens on is read from the latter. */
    static final List<String> SERVICES = List.of("gateway", "datagen-service", "trainer-service", "eval-service");

    /** apiVersion/kind of each kind the manifests may use, and its typed model. Anything else fails. */
    static final Map<String, Class<? extends HasMetadata>> TYPES = Map.ofEntries(
            Map.entry("v1/Namespace", Namespace.class),
            Map.entry("v1/ConfigMap", ConfigMap.class),
            Map.entry("v1/Secret", Secret.class),
            Map.entry("v1/Service", Service.class),
            Map.entry("v1/ServiceAccount", ServiceAccount.class),
            Map.entry("v1/PersistentVolumeClaim", PersistentVolumeClaim.class),
            Map.entry("apps/v1/Deployment", Deployment.class),
            Map.entry("apps/v1/StatefulSet", StatefulSet.class),
            Map.entry("batch/v1/Job", Job.class),
            Map.entry("networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class),
            Map.entry("policy/v1/PodDisruptionBudget", PodDisruptionBudget.class),
            Map.entry("autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
            Map.entry("kafka.strimzi.io/v1beta2/Kafka", Kafka.class),
            Map.entry("kafka.strimzi.io/v1beta2/KafkaNodePool", KafkaNodePool.class),
            Map.entry("kafka.strimzi.io/v1beta2/KafkaTopic", KafkaTopic.class));

    /** Fails on unknown fields, any-setters included, on duplicate keys, on null primitives. */
    static final ObjectMapper STRICT = JsonMapper.builder()
            .annotationIntrospector(new JacksonAnnotationIntrospector() {
                @Override
                public Boolean hasAnySetter(Annotated a) {
                    return Boolean.FALSE;
                }
            })
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .build();

    private static final YAMLMapper YAML = YAMLMapper.builder(YAMLFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .build();

    /** One rendered object: its YAML as a tree and its typed model. */
    record Rendered(JsonNode yaml, HasMetadata object) {
        String id() {
            return object.getKind() + "/" + object.getMetadata().getName();
        }
    }

    static Path root() {
        String prop = System.getProperty("forgeline.root");
        Path start = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        for (Path p = start.toAbsolutePath().normalize(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("k8s/base")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new IllegalStateException("no k8s/base above " + start);
    }

    private static final Map<String, String> RENDERS = new ConcurrentHashMap<>();

    /** The YAML {@code kubectl kustomize k8s/overlays/{overlay}} prints; rendered once per run. */
    static String render(String overlay) {
        return RENDERS.computeIfAbsent(overlay, o -> kustomize(root().resolve("k8s/overlays").resolve(o)));
    }

    static String kustomize(Path dir) {
        String kubectl = kubectl();
        try {
            File err = File.createTempFile("kustomize", ".err");
            err.deleteOnExit();
            Process p = new ProcessBuilder(kubectl, "kustomize", dir.toString())
                    .redirectError(err).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("kubectl kustomize " + dir + " did not finish in 120 s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("kubectl kustomize " + dir + " failed (exit " + p.exitValue() + "): "
                        + Files.readString(err.toPath()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** kubectl from $KUBECTL, else the PATH, else /usr/bin/kubectl; a clear failure when none. */
    static String kubectl() {
        String env = System.getenv("KUBECTL");
        if (env != null && !env.isBlank()) {
            if (Files.isExecutable(Path.of(env))) return env;
            throw new IllegalStateException("KUBECTL=" + env + " is not an executable file");
        }
        String path = System.getenv().getOrDefault("PATH", "");
        Stream<Path> candidates = Stream.concat(
                Stream.of(path.split(File.pathSeparator)).filter(s -> !s.isEmpty()).map(s -> Path.of(s, "kubectl")),
                Stream.of(Path.of("/usr/bin/kubectl"), Path.of("/usr/local/bin/kubectl")));
        return candidates.filter(Files::isExecutable).findFirst().map(Path::toString).orElseThrow(() ->
                new IllegalStateException("kubectl not found (looked at $KUBECTL, the PATH, /usr/bin, /usr/local/bin). "
                        + "deploy-check renders k8s/overlays/* with `kubectl kustomize` (kustomize is built into "
                        + "kubectl >= 1.14): install kubectl (Debian/Ubuntu: `apt-get install kubernetes-client` or "
                        + "`kubectl` from https://dl.k8s.io/release/<version>/bin/linux/amd64/kubectl) or set KUBECTL."));
    }

    /** The YAML documents of a render, as trees (empty documents dropped). */
    static List<JsonNode> documents(String yaml) {
        try {
            List<JsonNode> docs = new ArrayList<>();
            try (var it = YAML.readerFor(JsonNode.class).<JsonNode>readValues(yaml)) {
                while (it.hasNext()) {
                    JsonNode n = it.next();
                    if (n != null && !n.isNull() && !n.isMissingNode() && !n.isEmpty()) docs.add(n);
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException("unreadable YAML from kubectl kustomize", e);
        }
    }

    /** Parses one object into the typed model of its apiVersion/kind; throws on any unknown field or kind. */
    static HasMetadata parse(JsonNode node) {
        String key = node.path("apiVersion").asText() + "/" + node.path("kind").asText();
        Class<? extends HasMetadata> type = TYPES.get(key);
        if (type == null) {
            throw new IllegalArgumentException("no typed model registered for " + key + " ("
                    + node.path("metadata").path("name").asText() + "); add it to Manifests.TYPES");
        }
        try {
            return STRICT.treeToValue(node, type);
        } catch (IOException e) {
            throw new IllegalArgumentException(key + " " + node.path("metadata").path("name").asText()
                    + " does not parse strictly into " + type.getName() + ": " + e.getMessage(), e);
        }
    }

    private static final Map<String, List<Rendered>> PARSED = new ConcurrentHashMap<>();

    /** Every object of an overlay, parsed. */
    static List<Rendered> objects(String overlay) {
        return PARSED.computeIfAbsent(overlay, o -> documents(render(o)).stream()
                .map(n -> new Rendered(n, parse(n))).toList());
    }

    static <T extends HasMetadata> List<T> all(String overlay, Class<T> type) {
        return objects(overlay).stream().map(Rendered::object).filter(type::isInstance).map(type::cast).toList();
    }

    static <T extends HasMetadata> T named(String overlay, Class<T> type, String name) {
        return all(overlay, type).stream().filter(o -> name.equals(o.getMetadata().getName())).findFirst()
                .orElseThrow(() -> new AssertionError(overlay + ": no " + type.getSimpleName() + " " + name));
    }
}
