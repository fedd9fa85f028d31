package dev.forgeline.jobs;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How a {@link JobWorker} talks to Kafka. {@link #of} gives production defaults; tests shorten the
 * timeouts with the {@code with...} methods.
 *
 * @param bootstrapServers  Kafka bootstrap servers
 * @param groupId           consumer group shared by the replicas of one service
 * @param clientId          names this replica in logs, statuses and the group
 * @param pollTimeout       longest wait in one poll; also how soon a finished job's offset is committed
 * @param sessionTimeout    how long the group waits for a silent replica before moving its partitions
 * @param heartbeatInterval group heartbeat interval, about a third of the session timeout or less
 * @param maxPollRecords    records per poll
 * @param maxConcurrentJobs jobs this replica runs at once (one per partition at most); 1 suits a GPU trainer
 * @param maxAttempts       a job whose worker was lost this many times is failed instead of resumed again
 * @param stopGrace         how long a job given up (rebalance, close) may take to return before its thread is interrupted
 * @param statusInterval    shortest interval between two progress writes of one job's status on forge.jobs
 * @param instanceId        static group membership ({@code group.instance.id}, suffixed with the request
 *                          topic): a restarted replica with the same id gets its partitions back at once
 *                          instead of after a rebalance; null for dynamic membership
 * @param outageBudget      how long a broker may be away before a job's writes (checkpoint markers,
 *                          registrations) give up and the job fails; progress goes on meanwhile
 * @param openTelemetry     tracer and propagator; Quarkus passes its own
 * @param consumerOverrides extra consumer properties, applied last
 * @param producerOverrides extra producer properties, applied last
 */
public record JobWorkerConfig(
        String bootstrapServers,
        String groupId,
        String clientId,
        Duration pollTimeout,
        Duration sessionTimeout,
        Duration heartbeatInterval,
        int maxPollRecords,
        int maxConcurrentJobs,
        int maxAttempts,
        Duration stopGrace,
        Duration statusInterval,
        String instanceId,
        Duration outageBudget,
        OpenTelemetry openTelemetry,
        Map<String, Object> consumerOverrides,
        Map<String, Object> producerOverrides) {

    public JobWorkerConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(groupId, "groupId");
        if (clientId == null) clientId = groupId + "-" + ProcessHandle.current().pid();
        if (pollTimeout == null) pollTimeout = Duration.ofMillis(500);
        if (sessionTimeout == null) sessionTimeout = Duration.ofSeconds(30);
        if (heartbeatInterval == null) heartbeatInterval = Duration.ofSeconds(3);
        if (maxPollRecords <= 0) maxPollRecords = 50;
        if (maxConcurrentJobs <= 0) maxConcurrentJobs = 1;
        if (maxAttempts <= 0) maxAttempts = 10;
        if (stopGrace == null) stopGrace = Duration.ofSeconds(10);
        if (statusInterval == null) statusInterval = Duration.ofSeconds(1);
        if (instanceId != null && instanceId.isBlank()) instanceId = null;
        if (outageBudget == null) outageBudget = Duration.ofMinutes(5);
        if (openTelemetry == null) openTelemetry = GlobalOpenTelemetry.get();
        consumerOverrides = consumerOverrides == null ? Map.of() : Map.copyOf(consumerOverrides);
        producerOverrides = producerOverrides == null ? Map.of() : Map.copyOf(producerOverrides);
    }

    public static JobWorkerConfig of(String bootstrapServers, String groupId) {
        return new JobWorkerConfig(bootstrapServers, groupId, null, null, null, null, 0, 0, 0, null, null, null, null, null, null, null);
    }

    public JobWorkerConfig withClientId(String v) {
        return new JobWorkerConfig(bootstrapServers, groupId, v, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withTimeouts(Duration poll, Duration session, Duration heartbeat) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, poll, session, heartbeat,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withMaxPollRecords(int v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                v, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withMaxConcurrentJobs(int v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, v, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withMaxAttempts(int v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, v, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withStopGrace(Duration v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, v, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withStatusInterval(Duration v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, v, instanceId, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withOpenTelemetry(OpenTelemetry v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, v,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withConsumerOverrides(Map<String, Object> v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                v, producerOverrides);
    }

    public JobWorkerConfig withProducerOverrides(Map<String, Object> v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, outageBudget, openTelemetry,
                consumerOverrides, v);
    }

    public JobWorkerConfig withInstanceId(String v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, v, outageBudget, openTelemetry,
                consumerOverrides, producerOverrides);
    }

    public JobWorkerConfig withOutageBudget(Duration v) {
        return new JobWorkerConfig(bootstrapServers, groupId, clientId, pollTimeout, sessionTimeout, heartbeatInterval,
                maxPollRecords, maxConcurrentJobs, maxAttempts, stopGrace, statusInterval, instanceId, v, openTelemetry,
                consumerOverrides, producerOverrides);
    }
}
