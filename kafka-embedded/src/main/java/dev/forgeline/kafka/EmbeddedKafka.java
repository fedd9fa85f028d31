package dev.forgeline.kafka;

import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.Topics.TopicSpec;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.PrintStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A real Apache Kafka broker in KRaft combined mode (one node that is both controller and broker),
 * listening on loopback, with its data in a directory of its own.
 *
 * <p>Starting it again on the same directory keeps the data and the ports, so clients configured
 * with the old bootstrap address reconnect after a restart.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final String PORTS_FILE = "forge-ports.properties";

    private final Path dataDir;
    private final int brokerPort;
    private final int controllerPort;
    private KafkaRaftServer server;

    private EmbeddedKafka(Path dataDir, int brokerPort, int controllerPort) {
        this.dataDir = dataDir;
        this.brokerPort = brokerPort;
        this.controllerPort = controllerPort;
    }

    /** Starts a broker on a free port (or the port it used before in this directory) and creates every Forgeline topic. */
    public static EmbeddedKafka start(Path dataDir) {
        return start(dataDir, 0);
    }

    /** Starts a broker on {@code port} (0: a free one, or the port this directory used before). */
    public static EmbeddedKafka start(Path dataDir, int port) {
        try {
            Files.createDirectories(dataDir);
            Properties ports = loadPorts(dataDir);
            int brokerPort = port != 0 ? port : Integer.parseInt(ports.getProperty("broker", "0"));
            int controllerPort = Integer.parseInt(ports.getProperty("controller", "0"));
            if (brokerPort == 0) brokerPort = freePort();
            if (controllerPort == 0 || controllerPort == brokerPort) controllerPort = freePort();
            ports.setProperty("broker", String.valueOf(brokerPort));
            ports.setProperty("controller", String.valueOf(controllerPort));
            try (var out = Files.newOutputStream(dataDir.resolve(PORTS_FILE))) {
                ports.store(out, "ports of the embedded Kafka broker in this directory");
            }
            EmbeddedKafka kafka = new EmbeddedKafka(dataDir, brokerPort, controllerPort);
            kafka.startServer();
            kafka.createTopics(Topics.ALL);
            return kafka;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare Kafka data directory " + dataDir, e);
        }
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    public int port() {
        return brokerPort;
    }

    public Path dataDir() {
        return dataDir;
    }

    public synchronized boolean isRunning() {
        return server != null;
    }

    /** Creates topics that do not exist yet; existing ones are left as they are. */
    public void createTopics(List<TopicSpec> specs) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
            for (TopicSpec spec : specs) {
                NewTopic topic = new NewTopic(spec.name(), spec.partitions(), (short) 1).configs(spec.configs());
                try {
                    admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + spec.name(), e.getCause());
                    }
                }
            }
            // The controller acknowledges a creation before the broker's metadata cache has it;
            // callers expect to use the topics at once.
            Set<String> wanted = specs.stream().map(TopicSpec::name).collect(Collectors.toSet());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!admin.listTopics().names().get(30, TimeUnit.SECONDS).containsAll(wanted)) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("topics not visible after 30 s: " + wanted);
                Thread.sleep(50);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("broker did not create topics within 30 s", e);
        }
    }

    /** Stops the broker, keeping its data; {@link #restart()} brings it back on the same ports. */
    public synchronized void stop() {
        if (server == null) return;
        server.shutdown();
        server.awaitShutdown();
        server = null;
        LOG.info("Kafka broker on {} stopped", bootstrapServers());
    }

    public synchronized void restart() {
        if (server == null) startServer();
    }

    @Override
    public void close() {
        stop();
    }

    private synchronized void startServer() {
        Path logDir = dataDir.resolve("kraft");
        if (!Files.exists(logDir.resolve("meta.properties"))) format(logDir);
        KafkaRaftServer raft = new KafkaRaftServer(new KafkaConfig(brokerConfig(logDir)), Time.SYSTEM);
        raft.startup();
        server = raft;
        LOG.info("Kafka broker (KRaft) listening on {}, data in {}", bootstrapServers(), logDir);
    }

    /** What {@code kafka-storage.sh format} does: a new cluster id and the bootstrap metadata. */
    private static void format(Path logDir) {
        try {
            new Formatter()
                    .setPrintStream(new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8))
                    .setClusterId(Uuid.randomUuid().toString())
                    .setNodeId(1)
                    .setControllerListenerName("CONTROLLER")
                    .setMetadataLogDirectory(logDir.toString())
                    .setDirectories(List.of(logDir.toString()))
                    .setReleaseVersion(MetadataVersion.latestProduction())
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("cannot format Kafka log directory " + logDir, e);
        }
    }

    private Map<String, Object> brokerConfig(Path logDir) {
        Map<String, Object> p = new java.util.HashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        // One node: every internal topic has a single replica.
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "5");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        // Consumers in tests and local mode should not wait 3 s for a first rebalance.
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("auto.create.topics.enable", "false");
        p.put("log.flush.interval.messages", "1");
        p.put("log.cleaner.backoff.ms", "1000");
        p.put("num.network.threads", "2");
        p.put("num.io.threads", "2");
        p.put("background.threads", "2");
        return p;
    }

    private static Properties loadPorts(Path dataDir) throws IOException {
        Properties ports = new Properties();
        Path file = dataDir.resolve(PORTS_FILE);
        if (Files.exists(file)) {
            try (var in = Files.newInputStream(file)) {
                ports.load(in);
            }
        }
        return ports;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    /** Runs a broker until the process is stopped: {@code java -cp ... dev.forgeline.kafka.EmbeddedKafka DIR [PORT]}. */
    public static void main(String[] args) throws InterruptedException {
        Path dir = Path.of(args.length > 0 ? args[0] : ".forge/kafka");
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        EmbeddedKafka kafka = start(dir, port);
        Runtime.getRuntime().addShutdownHook(new Thread(kafka::close, "kafka-shutdown"));
        System.out.println("KAFKA_BOOTSTRAP_SERVERS=" + kafka.bootstrapServers());
        Thread.currentThread().join();
    }
}
