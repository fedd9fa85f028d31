package dev.forgeline.service;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Ready only while the Kafka cluster answers. Quarkus's own Kafka check waits on the cluster
 * without a deadline, so with the broker gone {@code /q/health/ready} never answers; this one
 * says DOWN after {@code forge.health.kafka-timeout}.
 */
@Readiness
@ApplicationScoped
public class KafkaReadinessCheck implements HealthCheck {
    private final String bootstrapServers;
    private final int timeoutMs;
    private Admin admin;

    KafkaReadinessCheck(@ConfigProperty(name = "kafka.bootstrap.servers") String bootstrapServers, ForgeConfig config) {
        this.bootstrapServers = bootstrapServers;
        this.timeoutMs = (int) config.health().kafkaTimeout().toMillis();
    }

    @Override
    public HealthCheckResponse call() {
        var response = HealthCheckResponse.named("Kafka cluster").withData("bootstrap.servers", bootstrapServers);
        try {
            Collection<Node> nodes = admin()
                    .describeCluster(new DescribeClusterOptions().timeoutMs(timeoutMs))
                    .nodes()
                    .get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
            String names = nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.joining(","));
            return response.withData("nodes", names).status(!nodes.isEmpty()).build();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return response.withData("error", "interrupted").down().build();
        } catch (Exception e) {
            return response.withData("error", String.valueOf(e.getMessage())).down().build();
        }
    }

    private synchronized Admin admin() {
        if (admin == null) {
            admin = Admin.create(Map.of(
                    AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                    AdminClientConfig.CLIENT_ID_CONFIG, "readiness",
                    AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeoutMs,
                    AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs,
                    // keep retrying a lost broker quickly, so readiness comes back soon after it does
                    AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000));
        }
        return admin;
    }

    @PreDestroy
    synchronized void close() {
        if (admin != null) admin.close();
    }
}
