package dev.forgeline.deploy;

import dev.forgeline.contracts.Topics;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.kafka.listener.GenericKafkaListener;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.nodepool.ProcessRoles;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The rendered overlays against the code: ports, topics, references, hardening, GPUs, images, settings. */
class DeployCheckTest {

    static final List<String> OVERLAYS = Manifests.OVERLAYS;

    /** Secrets the manifests name but never define: the operator creates them (k8s/README.md). */
    static final Set<String> EXPECTED_EXTERNAL_SECRETS = Set.of("forgeline-api-keys", "forgeline-teacher", "forgeline-hf-token");

    /** The images agreed with docker/: {service}.Dockerfile and {service}-cuda.Dockerfile build them. */
    static final Map<String, String> CPU_IMAGES = Map.of(
            "gateway", "forgeline/gateway:0.1.0",
            "datagen-service", "forgeline/datagen-service:0.1.0",
            "trainer-service", "forgeline/trainer-service:0.1.0",
            "eval-service", "forgeline/eval-service:0.1.0");
    static final Map<String, String> CUDA_IMAGES = Map.of(
            "gateway", "forgeline/gateway:0.1.0-cuda",
            "trainer-service", "forgeline/trainer-service:0.1.0-cuda");
    static final Set<String> GPU_SERVICES = CUDA_IMAGES.keySet();
    static final int UID = 10001;

    /** Settings each service reads beyond the README's shared table (its @ConfigMapping interface). */
    static final Map<String, List<String>> OWN_SETTINGS = Map.of(
            // GatewayConfig, and gateway's application.properties (forge.gateway.api-keys=${FORGE_API_KEYS:})
            "gateway", List.of("FORGE_API_KEYS", "FORGE_GATEWAY_HUB_MODELS", "FORGE_GATEWAY_MAX_BATCH",
                    "FORGE_GATEWAY_MAX_WAITING", "FORGE_GATEWAY_PREFILL_TOKENS_PER_STEP", "FORGE_GATEWAY_MAX_CONTEXT",
                    "FORGE_GATEWAY_MEMORY_BUDGET_MIB", "FORGE_GATEWAY_LOAD_TIMEOUT", "FORGE_GATEWAY_MAX_BODY_BYTES",
                    "FORGE_GATEWAY_FILES_MAX_BYTES", "FORGE_GATEWAY_DEVICE", "FORGE_GATEWAY_DTYPE",
                    "FORGE_GATEWAY_WEIGHTS", "FORGE_GATEWAY_REGISTRY_ENABLED", "FORGE_GATEWAY_REMOTE_TIMEOUT"),
            // DatagenConfig.TeacherSettings, PolicySettings' base URL, and the key variables its allowed-api-key-envs names
            "datagen-service", List.of("FORGE_DATAGEN_TEACHER_BASE_URL", "FORGE_DATAGEN_TEACHER_MODEL",
                    "FORGE_DATAGEN_TEACHER_API_KEY_ENV", "FORGE_DATAGEN_TEACHER_ALLOWED_API_KEY_ENVS",
                    "FORGE_DATAGEN_TEACHER_TIMEOUT", "FORGE_DATAGEN_TEACHER_MAX_ATTEMPTS",
                    "OPENAI_API_KEY", "FORGE_TEACHER_API_KEY", "FORGE_DATAGEN_POLICY_BASE_URL"),
            // TrainerConfig
            "trainer-service", List.of("FORGE_TRAINER_DEVICE", "FORGE_TRAINER_PROGRESS_EVERY"),
            // EvalConfig
            "eval-service", List.of("FORGE_EVAL_DEVICE", "FORGE_EVAL_MAX_BATCH_TOKENS", "FORGE_EVAL_GENERATE_BATCH",
                    "FORGE_EVAL_BOOTSTRAP_RESAMPLES", "FORGE_EVAL_SETS"));

    // ---------------------------------------------------------------- ports and probes

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void probesAndPortsMatchEachServicesHttpPort(String overlay) {
        for (String service : Manifests.SERVICES) {
            int port = httpPort(service);
            Deployment d = Manifests.named(overlay, Deployment.class, service);
            Container c = container(d.getSpec().getTemplate(), service);
            String where = overlay + " " + service + ": ";
            assertTrue(c.getPorts().stream().anyMatch(p -> p.getContainerPort() == port),
                    where + "no containerPort " + port + " (quarkus.http.port)");
            check(where + "readiness", c, c.getReadinessProbe(), "/q/health/ready", port);
            check(where + "liveness", c, c.getLivenessProbe(), "/q/health/live", port);
            if (c.getStartupProbe() != null) check(where + "startup", c, c.getStartupProbe(), "/q/health/live", port);
            Map<String, String> env = env(overlay, d.getSpec().getTemplate(), c);
            if (env.containsKey("QUARKUS_HTTP_PORT")) {
                assertEquals(String.valueOf(port), env.get("QUARKUS_HTTP_PORT"), where + "QUARKUS_HTTP_PORT");
            }
            Map<String, String> ann = d.getSpec().getTemplate().getMetadata().getAnnotations();
            assertEquals("true", ann.get("prometheus.io/scrape"), where + "prometheus.io/scrape");
            assertEquals(String.valueOf(port), ann.get("prometheus.io/port"), where + "prometheus.io/port");
            assertEquals("/q/metrics", ann.get("prometheus.io/path"), where + "prometheus.io/path");
            Service s = Manifests.named(overlay, Service.class, service);
            assertTrue(selects(s.getSpec().getSelector(), d.getSpec().getTemplate()), where + "Service selects no pod");
            ServicePort sp = s.getSpec().getPorts().get(0);
            assertEquals(port, sp.getPort(), where + "Service port");
            assertEquals(port, resolve(c, sp.getTargetPort()), where + "Service targetPort");
        }
    }

    private static void check(String where, Container c, Probe probe, String path, int port) {
        assertNotNull(probe, where + " probe missing");
        assertNotNull(probe.getHttpGet(), where + " probe is not an HTTP GET");
        assertEquals(path, probe.getHttpGet().getPath(), where + " probe path");
        assertEquals(port, resolve(c, probe.getHttpGet().getPort()), where + " probe port");
    }

    /** A port by number, or by the name of one of the container's ports. */
    private static int resolve(Container c, IntOrString port) {
        if (port.getIntVal() != null) return port.getIntVal();
        return c.getPorts().stream().filter(p -> port.getStrVal().equals(p.getName())).map(ContainerPort::getContainerPort)
                .findFirst().orElseThrow(() -> new AssertionError(c.getName() + " has no port named " + port.getStrVal()));
    }

    /** quarkus.http.port from {service}/src/main/resources/application.properties. */
    static int httpPort(String service) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Manifests.root().resolve(service).resolve("src/main/resources/application.properties"))) {
            p.load(r);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + service + "'s application.properties", e);
        }
        String port = p.getProperty("quarkus.http.port");
        assertNotNull(port, service + " sets no quarkus.http.port");
        return Integer.parseInt(port.trim());
    }

    // ---------------------------------------------------------------- Kafka

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void kafkaTopicsAreExactlyTopicsAll(String overlay) {
        List<Kafka> kafkas = Manifests.all(overlay, Kafka.class);
        assertEquals(1, kafkas.size(), overlay + ": one Kafka cluster");
        Kafka kafka = kafkas.get(0);
        String cluster = kafka.getMetadata().getName();
        Map<String, String> ann = kafka.getMetadata().getAnnotations();
        assertEquals("enabled", ann.get("strimzi.io/kraft"), overlay + ": Kafka in KRaft mode");
        assertEquals("enabled", ann.get("strimzi.io/node-pools"), overlay + ": Kafka with node pools");
        List<KafkaNodePool> pools = Manifests.all(overlay, KafkaNodePool.class);
        assertFalse(pools.isEmpty(), overlay + ": no KafkaNodePool");
        int brokers = 0;
        Set<ProcessRoles> roles = new LinkedHashSet<>();
        for (KafkaNodePool pool : pools) {
            assertEquals(cluster, pool.getMetadata().getLabels().get("strimzi.io/cluster"), overlay + ": node pool's cluster");
            roles.addAll(pool.getSpec().getRoles());
            if (pool.getSpec().getRoles().contains(ProcessRoles.BROKER)) brokers += pool.getSpec().getReplicas();
        }
        assertEquals(Set.of(ProcessRoles.CONTROLLER, ProcessRoles.BROKER), roles, overlay + ": controllers and brokers");
        Object minIsr = kafka.getSpec().getKafka().getConfig().get("min.insync.replicas");

        Map<String, KafkaTopic> topics = new TreeMap<>();
        for (KafkaTopic t : Manifests.all(overlay, KafkaTopic.class)) {
            String name = t.getSpec().getTopicName() != null ? t.getSpec().getTopicName() : t.getMetadata().getName();
            assertEquals(cluster, t.getMetadata().getLabels().get("strimzi.io/cluster"), overlay + " " + name + ": cluster label");
            assertNotNull(topics.put(name, t) == null ? "" : null, overlay + ": topic " + name + " defined twice");
        }
        assertEquals(Topics.ALL.stream().map(Topics.TopicSpec::name).collect(Collectors.toCollection(TreeSet::new)),
                topics.keySet(), overlay + ": KafkaTopics against contracts' Topics.ALL");
        for (Topics.TopicSpec spec : Topics.ALL) {
            KafkaTopic t = topics.get(spec.name());
            String where = overlay + " " + spec.name() + ": ";
            assertEquals(spec.partitions(), t.getSpec().getPartitions(), where + "partitions");
            Map<String, String> config = new TreeMap<>();
            t.getSpec().getConfig().forEach((k, v) -> config.put(k, String.valueOf(v)));
            assertEquals(new TreeMap<>(spec.configs()), config, where + "config (cleanup.policy, compaction lag, retention)");
            int replicas = t.getSpec().getReplicas();
            assertTrue(replicas >= 1 && replicas <= brokers, where + replicas + " replicas on " + brokers + " brokers");
            if (minIsr != null) {
                assertTrue(Integer.parseInt(minIsr.toString()) <= replicas, where + "min.insync.replicas above the replicas");
            }
        }
    }

    // ---------------------------------------------------------------- references

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void everyReferenceResolves(String overlay) {
        Map<String, ConfigMap> configMaps = byName(overlay, ConfigMap.class);
        Map<String, Secret> secrets = byName(overlay, Secret.class);
        Map<String, PersistentVolumeClaim> pvcs = byName(overlay, PersistentVolumeClaim.class);
        List<String> problems = new ArrayList<>();
        Set<String> externalUsed = new TreeSet<>();
        for (var e : podTemplates(overlay).entrySet()) {
            String owner = overlay + " " + e.getKey();
            PodSpec pod = e.getValue().getSpec();
            for (Volume v : pod.getVolumes()) {
                if (v.getConfigMap() != null && !configMaps.containsKey(v.getConfigMap().getName())) {
                    problems.add(owner + ": volume " + v.getName() + " names ConfigMap " + v.getConfigMap().getName());
                }
                if (v.getSecret() != null) secretRef(owner, v.getSecret().getSecretName(), null, v.getSecret().getOptional(), secrets, externalUsed, problems);
                if (v.getPersistentVolumeClaim() != null && !pvcs.containsKey(v.getPersistentVolumeClaim().getClaimName())) {
                    problems.add(owner + ": volume " + v.getName() + " names PVC " + v.getPersistentVolumeClaim().getClaimName());
                }
            }
            for (Container c : containers(pod)) {
                Set<String> volumes = pod.getVolumes().stream().map(Volume::getName).collect(Collectors.toSet());
                for (VolumeMount m : c.getVolumeMounts()) {
                    if (!volumes.contains(m.getName())) problems.add(owner + ": mount of unknown volume " + m.getName());
                }
                for (EnvFromSource f : c.getEnvFrom()) {
                    if (f.getConfigMapRef() != null && !configMaps.containsKey(f.getConfigMapRef().getName())
                            && !Boolean.TRUE.equals(f.getConfigMapRef().getOptional())) {
                        problems.add(owner + ": envFrom ConfigMap " + f.getConfigMapRef().getName());
                    }
                    if (f.getSecretRef() != null) secretRef(owner, f.getSecretRef().getName(), null, f.getSecretRef().getOptional(), secrets, externalUsed, problems);
                }
                for (EnvVar v : c.getEnv()) {
                    if (v.getValueFrom() == null) continue;
                    var cm = v.getValueFrom().getConfigMapKeyRef();
                    if (cm != null && !Boolean.TRUE.equals(cm.getOptional())
                            && (!configMaps.containsKey(cm.getName()) || !configMaps.get(cm.getName()).getData().containsKey(cm.getKey()))) {
                        problems.add(owner + ": env " + v.getName() + " names " + cm.getName() + "/" + cm.getKey());
                    }
                    var s = v.getValueFrom().getSecretKeyRef();
                    if (s != null) secretRef(owner, s.getName(), s.getKey(), s.getOptional(), secrets, externalUsed, problems);
                }
            }
        }
        // Services, PDBs, the HPA and NetworkPolicies select or name something that exists
        for (Service s : Manifests.all(overlay, Service.class)) {
            if (podTemplates(overlay).values().stream().noneMatch(t -> selects(s.getSpec().getSelector(), t))) {
                problems.add(overlay + " Service " + s.getMetadata().getName() + " selects no pod");
            }
        }
        for (PodDisruptionBudget p : Manifests.all(overlay, PodDisruptionBudget.class)) {
            if (podTemplates(overlay).values().stream().noneMatch(t -> selects(p.getSpec().getSelector().getMatchLabels(), t))) {
                problems.add(overlay + " PodDisruptionBudget " + p.getMetadata().getName() + " selects no pod");
            }
        }
        for (HorizontalPodAutoscaler h : Manifests.all(overlay, HorizontalPodAutoscaler.class)) {
            var ref = h.getSpec().getScaleTargetRef();
            if (!"Deployment".equals(ref.getKind()) || !byName(overlay, Deployment.class).containsKey(ref.getName())) {
                problems.add(overlay + " HPA " + h.getMetadata().getName() + " scales " + ref.getKind() + " " + ref.getName());
            }
        }
        for (NetworkPolicy np : Manifests.all(overlay, NetworkPolicy.class)) {
            if (podTemplates(overlay).values().stream().noneMatch(t -> selects(np.getSpec().getPodSelector().getMatchLabels(), t))) {
                problems.add(overlay + " NetworkPolicy " + np.getMetadata().getName() + " selects no pod");
            }
        }
        // the endpoints the services are given exist in the render
        Kafka kafka = Manifests.all(overlay, Kafka.class).get(0);
        ConfigMap common = configMaps.get("forgeline-common");
        assertNotNull(common, overlay + ": ConfigMap forgeline-common");
        String bootstrap = kafka.getMetadata().getName() + "-kafka-bootstrap:"
                + kafka.getSpec().getKafka().getListeners().stream().filter(l -> !l.isTls()).findFirst()
                        .orElseThrow(() -> new AssertionError(overlay + ": no plain listener")).getPort();
        assertEquals(bootstrap, common.getData().get("KAFKA_BOOTSTRAP_SERVERS"), overlay + ": KAFKA_BOOTSTRAP_SERVERS against the Kafka resource");
        String otlp = common.getData().get("QUARKUS_OTEL_EXPORTER_OTLP_ENDPOINT");
        Matcher m = Pattern.compile("http://([a-z0-9-]+):(\\d+)").matcher(String.valueOf(otlp));
        assertTrue(m.matches(), overlay + ": OTLP endpoint " + otlp);
        Service collector = byName(overlay, Service.class).get(m.group(1));
        assertNotNull(collector, overlay + ": OTLP endpoint names Service " + m.group(1));
        assertTrue(collector.getSpec().getPorts().stream().anyMatch(p -> p.getPort() == Integer.parseInt(m.group(2))),
                overlay + ": collector Service has port " + m.group(2));
        assertEquals("false", common.getData().get("QUARKUS_OTEL_SDK_DISABLED"), overlay + ": tracing on");
        if (!problems.isEmpty()) fail("unresolved references:\n  " + String.join("\n  ", problems));
        assertFalse(externalUsed.isEmpty(), overlay + ": expected the external Secrets to be referenced");
    }

    private static void secretRef(String owner, String name, String key, Boolean optional, Map<String, Secret> secrets,
            Set<String> externalUsed, List<String> problems) {
        if (secrets.containsKey(name)) return;
        if (!EXPECTED_EXTERNAL_SECRETS.contains(name)) {
            problems.add(owner + ": Secret " + name + " is neither in the render nor an expected external Secret");
        } else if (!Boolean.TRUE.equals(optional)) {
            problems.add(owner + ": external Secret " + name + (key != null ? "/" + key : "") + " must be optional: pods start without it");
        } else {
            externalUsed.add(name);
        }
    }

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void noSecretCarriesData(String overlay) {
        for (Secret s : Manifests.all(overlay, Secret.class)) {
            assertTrue(s.getData() == null || s.getData().isEmpty(), overlay + " Secret " + s.getMetadata().getName() + " has data");
            assertTrue(s.getStringData() == null || s.getStringData().isEmpty(), overlay + " Secret " + s.getMetadata().getName() + " has stringData");
        }
        // and no literal credential in a container's env
        for (var e : podTemplates(overlay).entrySet()) {
            for (Container c : containers(e.getValue().getSpec())) {
                for (EnvVar v : c.getEnv()) {
                    if (v.getName().matches(".*(KEY|TOKEN|PASSWORD|SECRET).*") && !v.getName().endsWith("_ENV") && !v.getName().endsWith("_ENVS")) {
                        assertTrue(v.getValue() == null, overlay + " " + e.getKey() + ": " + v.getName() + " has a literal value");
                    }
                }
            }
        }
        for (ConfigMap cm : Manifests.all(overlay, ConfigMap.class)) {
            cm.getData().forEach((k, v) -> {
                if (k.matches(".*(API_KEY|TOKEN|PASSWORD|SECRET)$")) fail(overlay + " ConfigMap " + cm.getMetadata().getName() + " holds " + k);
            });
        }
    }

    // ---------------------------------------------------------------- hardening

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void everyContainerRunsNonRootWithLimits(String overlay) {
        List<String> problems = new ArrayList<>();
        for (var e : podTemplates(overlay).entrySet()) {
            PodSpec pod = e.getValue().getSpec();
            PodSecurityContext psc = pod.getSecurityContext();
            for (Container c : containers(pod)) {
                String where = overlay + " " + e.getKey() + "/" + c.getName() + ": ";
                SecurityContext sc = c.getSecurityContext();
                if (sc == null) {
                    problems.add(where + "no securityContext");
                    continue;
                }
                Boolean nonRoot = sc.getRunAsNonRoot() != null ? sc.getRunAsNonRoot() : psc != null ? psc.getRunAsNonRoot() : null;
                Long uid = sc.getRunAsUser() != null ? sc.getRunAsUser() : psc != null ? psc.getRunAsUser() : null;
                if (!Boolean.TRUE.equals(nonRoot)) problems.add(where + "runAsNonRoot is not true");
                if (uid == null || uid != UID) problems.add(where + "runAsUser " + uid + ", agreed " + UID);
                if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) problems.add(where + "allowPrivilegeEscalation is not false");
                if (Boolean.TRUE.equals(sc.getPrivileged())) problems.add(where + "privileged");
                if (sc.getCapabilities() == null || !sc.getCapabilities().getDrop().contains("ALL")) problems.add(where + "capabilities not dropped (ALL)");
                if (sc.getCapabilities() != null && !sc.getCapabilities().getAdd().isEmpty()) problems.add(where + "adds capabilities");
                var res = c.getResources();
                for (String r : List.of("cpu", "memory")) {
                    if (res == null || res.getLimits().get(r) == null) problems.add(where + "no " + r + " limit");
                    if (res == null || res.getRequests().get(r) == null) problems.add(where + "no " + r + " request");
                    else if (res.getLimits().get(r) != null
                            && Quantity.getAmountInBytes(res.getRequests().get(r)).compareTo(Quantity.getAmountInBytes(res.getLimits().get(r))) > 0) {
                        problems.add(where + r + " request above its limit");
                    }
                }
                if (Manifests.SERVICES.contains(c.getName())) {
                    if (!Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem())) problems.add(where + "root filesystem is writable");
                    Map<String, String> env = env(overlay, e.getValue(), c);
                    Map<String, String> mounts = new HashMap<>();
                    for (VolumeMount m : c.getVolumeMounts()) mounts.put(m.getMountPath(), m.getName());
                    Set<String> emptyDirs = pod.getVolumes().stream().filter(v -> v.getEmptyDir() != null).map(Volume::getName).collect(Collectors.toSet());
                    if (!emptyDirs.contains(mounts.get("/tmp"))) problems.add(where + "/tmp is not a writable emptyDir");
                    for (String var : List.of("HOME", "DJL_CACHE_DIR", "ENGINE_CACHE_DIR", "HF_HOME")) {
                        String dir = env.get(var);
                        boolean writable = dir != null && mounts.entrySet().stream()
                                .anyMatch(m -> (dir + "/").startsWith(m.getKey() + "/") && emptyDirs.contains(m.getValue()));
                        if (!writable) problems.add(where + var + "=" + dir + " is not on a writable emptyDir");
                    }
                    // the artifact store: the shared PVC at FORGE_ARTIFACTS_ROOT, base models inside it
                    String root = env.get("FORGE_ARTIFACTS_ROOT");
                    String vol = mounts.get(root);
                    Volume v = pod.getVolumes().stream().filter(x -> x.getName().equals(vol)).findFirst().orElse(null);
                    if (v == null || v.getPersistentVolumeClaim() == null || !"forge-artifacts".equals(v.getPersistentVolumeClaim().getClaimName())) {
                        problems.add(where + "FORGE_ARTIFACTS_ROOT=" + root + " is not the forge-artifacts PVC's mount");
                    }
                    String base = env.get("FORGE_BASE_MODELS");
                    if (base == null || root == null || !base.startsWith(root + "/")) problems.add(where + "FORGE_BASE_MODELS=" + base + " is not under " + root);
                }
            }
        }
        if (!problems.isEmpty()) fail("containers not hardened:\n  " + String.join("\n  ", problems));
    }

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void artifactStoreIsOneSharedVolume(String overlay) {
        List<PersistentVolumeClaim> pvcs = Manifests.all(overlay, PersistentVolumeClaim.class);
        assertEquals(List.of("forge-artifacts"), pvcs.stream().map(p -> p.getMetadata().getName()).toList(), overlay);
        // one node in local: ReadWriteOnce serves every pod there (kind's and minikube's provisioners have no RWX)
        assertEquals(List.of(overlay.equals("local") ? "ReadWriteOnce" : "ReadWriteMany"), pvcs.get(0).getSpec().getAccessModes(), overlay);
    }

    // ---------------------------------------------------------------- network policies

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void onlyTheGatewayIsReachableFromOutsideAndKafkaOnlyFromTheServices(String overlay) {
        Map<String, PodTemplateSpec> pods = podTemplates(overlay);
        // every pod of ours is under a default-deny ingress policy
        NetworkPolicy deny = Manifests.named(overlay, NetworkPolicy.class, "default-deny-ingress");
        assertTrue(deny.getSpec().getIngress().isEmpty() && deny.getSpec().getPolicyTypes().contains("Ingress"), overlay + ": default deny");
        for (var e : pods.entrySet()) {
            assertTrue(selects(deny.getSpec().getPodSelector().getMatchLabels(), e.getValue()), overlay + ": " + e.getKey() + " outside default deny");
        }
        // a rule open beyond the namespace (no from, or a namespaceSelector) reaches only the gateway,
        // except the workers' metrics port for a namespace named "monitoring"
        for (NetworkPolicy np : Manifests.all(overlay, NetworkPolicy.class)) {
            for (NetworkPolicyIngressRule rule : np.getSpec().getIngress()) {
                boolean openToAll = rule.getFrom().isEmpty();
                boolean otherNamespaces = rule.getFrom().stream().anyMatch(p -> p.getNamespaceSelector() != null || p.getIpBlock() != null);
                Set<String> selected = pods.entrySet().stream()
                        .filter(e -> selects(np.getSpec().getPodSelector().getMatchLabels(), e.getValue()))
                        .map(Map.Entry::getKey).collect(Collectors.toSet());
                if (openToAll) {
                    assertEquals(Set.of("Deployment/gateway"), selected, overlay + " " + np.getMetadata().getName() + " opens other pods to everyone");
                } else if (otherNamespaces) {
                    for (NetworkPolicyPeer p : rule.getFrom()) {
                        if (p.getNamespaceSelector() == null) continue;
                        assertEquals(Map.of("kubernetes.io/metadata.name", "monitoring"), p.getNamespaceSelector().getMatchLabels(),
                                overlay + " " + np.getMetadata().getName() + ": only the monitoring namespace");
                        assertNull(p.getIpBlock());
                    }
                }
            }
        }
        // Kafka's listeners admit only the pods labelled as Kafka clients: the four services (and the card Job)
        Kafka kafka = Manifests.all(overlay, Kafka.class).get(0);
        for (GenericKafkaListener l : kafka.getSpec().getKafka().getListeners()) {
            assertEquals("internal", l.getType().toValue(), overlay + ": listener " + l.getName() + " is internal");
            assertFalse(l.getNetworkPolicyPeers().isEmpty(), overlay + ": listener " + l.getName() + " open to every pod");
            Set<String> admitted = new TreeSet<>();
            for (NetworkPolicyPeer peer : l.getNetworkPolicyPeers()) {
                assertNull(peer.getNamespaceSelector(), overlay + ": Kafka open to other namespaces");
                pods.forEach((k, t) -> { if (selects(peer.getPodSelector().getMatchLabels(), t)) admitted.add(k); });
            }
            Set<String> expected = new TreeSet<>();
            Manifests.SERVICES.forEach(s -> expected.add("Deployment/" + s));
            pods.keySet().stream().filter(k -> k.startsWith("Job/publish-")).forEach(expected::add);
            assertEquals(expected, admitted, overlay + ": pods Kafka admits");
        }
    }

    private static void assertNull(Object o) {
        assertTrue(o == null, "expected none: " + o);
    }

    private static void assertNull(Object o, String message) {
        assertTrue(o == null, message);
    }

    // ---------------------------------------------------------------- GPUs and images

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void gpusGoOnlyWhereIntended(String overlay) {
        Set<String> withGpu = new TreeSet<>();
        for (var e : podTemplates(overlay).entrySet()) {
            for (Container c : containers(e.getValue().getSpec())) {
                var res = c.getResources();
                if (res != null && (res.getLimits().containsKey("nvidia.com/gpu") || res.getRequests().containsKey("nvidia.com/gpu"))) {
                    withGpu.add(c.getName());
                    assertNotNull(res.getLimits().get("nvidia.com/gpu"), overlay + " " + c.getName() + ": a GPU is requested by its limit");
                    var spec = e.getValue().getSpec();
                    assertTrue(spec.getTolerations().stream().anyMatch(t -> "nvidia.com/gpu".equals(t.getKey())),
                            overlay + " " + c.getName() + ": tolerates the GPU nodes' taint");
                    assertEquals("true", spec.getNodeSelector().get("nvidia.com/gpu.present"), overlay + " " + c.getName() + ": GPU node selector");
                }
            }
        }
        Map<String, Set<String>> expected = Map.of("local", Set.of(), "gpu", GPU_SERVICES, "prod", Set.of("djl-lmi"));
        assertEquals(new TreeSet<>(expected.get(overlay)), withGpu, overlay + ": containers with GPUs");
        Map<String, String> trainer = serviceEnv(overlay, "trainer-service");
        Map<String, String> gateway = serviceEnv(overlay, "gateway");
        if (overlay.equals("gpu")) {
            assertEquals("cuda", trainer.get("FORGE_TRAINER_DEVICE"), "gpu: trainer device");
            assertEquals("cuda", gateway.get("FORGE_GATEWAY_DEVICE"), "gpu: gateway device");
        } else {
            assertTrue(Set.of("cpu", "auto").contains(trainer.get("FORGE_TRAINER_DEVICE")), overlay + ": trainer device");
            assertEquals("cpu", gateway.get("FORGE_GATEWAY_DEVICE"), overlay + ": gateway device");
        }
    }

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void imagesAreTheAgreedOnes(String overlay) {
        for (String service : Manifests.SERVICES) {
            Deployment d = Manifests.named(overlay, Deployment.class, service);
            String image = container(d.getSpec().getTemplate(), service).getImage();
            String expected = overlay.equals("gpu") && CUDA_IMAGES.containsKey(service) ? CUDA_IMAGES.get(service) : CPU_IMAGES.get(service);
            assertEquals(expected, image, overlay + " " + service + ": image");
        }
        for (var e : podTemplates(overlay).entrySet()) {
            for (Container c : containers(e.getValue().getSpec())) {
                String image = c.getImage();
                if (image.startsWith("forgeline/")) {
                    assertTrue(CPU_IMAGES.containsValue(image) || CUDA_IMAGES.containsValue(image), overlay + ": unknown Forgeline image " + image);
                } else {
                    // third-party images pinned to a version
                    assertTrue(image.matches(".+:[A-Za-z0-9][A-Za-z0-9._-]*") && !image.endsWith(":latest"),
                            overlay + " " + e.getKey() + ": image " + image + " is not pinned");
                }
            }
        }
    }

    /** When docker/ has the Dockerfiles, each image the manifests use has its Dockerfile. */
    @Test
    void eachForgelineImageHasItsDockerfile() throws IOException {
        Path docker = Manifests.root().resolve("docker");
        boolean any;
        try (Stream<Path> files = Files.list(docker)) {
            any = files.anyMatch(p -> p.getFileName().toString().endsWith(".Dockerfile"));
        }
        Assumptions.assumeTrue(any, "docker/ has no *.Dockerfile yet: nothing to check the images against");
        Set<String> used = new TreeSet<>();
        for (String overlay : OVERLAYS) {
            podTemplates(overlay).values().forEach(t -> containers(t.getSpec()).forEach(c -> {
                if (c.getImage().startsWith("forgeline/")) used.add(c.getImage());
            }));
        }
        assertEquals(new TreeSet<>(Stream.concat(CPU_IMAGES.values().stream(), CUDA_IMAGES.values().stream()).toList()), used,
                "every agreed image is used by some overlay");
        for (String image : used) {
            String name = image.substring("forgeline/".length(), image.indexOf(':'));
            String file = name + (image.endsWith("-cuda") ? "-cuda" : "") + ".Dockerfile";
            assertTrue(Files.isRegularFile(docker.resolve(file)), image + " has no docker/" + file);
            String text = Files.readString(docker.resolve(file));
            assertTrue(text.contains(image), "docker/" + file + " never names " + image + " (its build tag)");
            assertTrue(Pattern.compile("(?m)^USER 10001(:10001)?\\s*$").matcher(text).find(), "docker/" + file + ": USER 10001, the uid the manifests run as");
            assertTrue(Pattern.compile("(?m)^EXPOSE " + httpPort(name) + "\\b").matcher(text).find(), "docker/" + file + ": EXPOSE " + httpPort(name));
        }
    }

    // ---------------------------------------------------------------- settings

    /** Every setting the services read (README's table and each config interface) is set, by env name. */
    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void everySettingIsConfigured(String overlay) throws IOException {
        Set<String> shared = readmeSettings();
        assertTrue(shared.contains("KAFKA_BOOTSTRAP_SERVERS") && shared.contains("FORGE_ARTIFACTS_ROOT")
                && shared.size() >= 15, "README's configuration table: " + shared);
        List<String> problems = new ArrayList<>();
        for (String service : Manifests.SERVICES) {
            Map<String, String> env = serviceEnv(overlay, service);
            for (String name : shared) {
                if (name.startsWith("FORGE_TRAINER_") && !service.equals("trainer-service")) continue;
                if (!env.containsKey(name)) problems.add(service + ": " + name);
            }
            for (String name : OWN_SETTINGS.get(service)) {
                if (!env.containsKey(name)) problems.add(service + ": " + name);
            }
            // each replica group is its own
            assertEquals(service, env.get("FORGE_WORKER_GROUP_ID"), overlay + " " + service + ": worker group");
        }
        if (!problems.isEmpty()) fail(overlay + ": settings not configured:\n  " + String.join("\n  ", problems));
    }

    /** The environment names of README.md's configuration table (| `property` | `ENV` | default | meaning |). */
    static Set<String> readmeSettings() throws IOException {
        String readme = Files.readString(Manifests.root().resolve("README.md"));
        int start = readme.indexOf("## Configuration");
        int end = readme.indexOf("\n## ", start + 1);
        Matcher m = Pattern.compile("(?m)^\\| `[a-z][a-z0-9.-]*` \\| `([A-Z0-9_]+)` \\|").matcher(readme.substring(start, end));
        Set<String> names = new TreeSet<>();
        while (m.find()) names.add(m.group(1));
        return names;
    }

    // ---------------------------------------------------------------- helpers

    static <T extends HasMetadata> Map<String, T> byName(String overlay, Class<T> type) {
        Map<String, T> m = new LinkedHashMap<>();
        Manifests.all(overlay, type).forEach(o -> m.put(o.getMetadata().getName(), o));
        return m;
    }

    /** Every pod template of an overlay, by Kind/name. */
    static Map<String, PodTemplateSpec> podTemplates(String overlay) {
        Map<String, PodTemplateSpec> m = new TreeMap<>();
        for (HasMetadata o : Manifests.objects(overlay).stream().map(Manifests.Rendered::object).toList()) {
            PodTemplateSpec t = o instanceof Deployment d ? d.getSpec().getTemplate()
                    : o instanceof StatefulSet s ? s.getSpec().getTemplate()
                    : o instanceof Job j ? j.getSpec().getTemplate() : null;
            if (t != null) m.put(o.getKind() + "/" + o.getMetadata().getName(), t);
        }
        return m;
    }

    static List<Container> containers(PodSpec pod) {
        List<Container> all = new ArrayList<>(pod.getInitContainers());
        all.addAll(pod.getContainers());
        return all;
    }

    static Container container(PodTemplateSpec t, String name) {
        return t.getSpec().getContainers().stream().filter(c -> name.equals(c.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }

    static boolean selects(Map<String, String> selector, PodTemplateSpec t) {
        Map<String, String> labels = t.getMetadata().getLabels();
        return selector != null && labels != null && labels.entrySet().containsAll(selector.entrySet());
    }

    /** A container's environment as Kubernetes builds it: envFrom in order, then env (values from refs as "<ref>"). */
    static Map<String, String> env(String overlay, PodTemplateSpec t, Container c) {
        Map<String, ConfigMap> cms = byName(overlay, ConfigMap.class);
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvFromSource f : c.getEnvFrom()) {
            if (f.getConfigMapRef() != null && cms.containsKey(f.getConfigMapRef().getName())) {
                env.putAll(cms.get(f.getConfigMapRef().getName()).getData());
            }
        }
        for (EnvVar v : c.getEnv()) env.put(v.getName(), v.getValue() != null ? v.getValue() : "<" + Objects.toString(v.getValueFrom()) + ">");
        return env;
    }

    static Map<String, String> serviceEnv(String overlay, String service) {
        Deployment d = Manifests.named(overlay, Deployment.class, service);
        return env(overlay, d.getSpec().getTemplate(), container(d.getSpec().getTemplate(), service));
    }
}
