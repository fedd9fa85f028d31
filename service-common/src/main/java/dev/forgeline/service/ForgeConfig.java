package dev.forgeline.service;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The {@code forge.*} settings every service reads (env: {@code FORGE_ARTIFACTS_ROOT},
 * {@code FORGE_WORKER_GROUP_ID}, ...). The README's configuration table lists each with its default.
 */
@ConfigMapping(prefix = "forge")
public interface ForgeConfig {

    Artifacts artifacts();

    /**
     * A folder of Hugging Face-format model folders offered as base models ({@code FORGE_BASE_MODELS});
     * none when unset.
     */
    Optional<Path> baseModels();

    Worker worker();

    Health health();

    interface Artifacts {
        /** The artifact store: a directory or a {@code file:} URI, shared by every service. */
        @WithDefault(".forge/artifacts")
        String root();
    }

    interface Worker {
        /** The consumer group of this service's replicas; replicas share a request topic's partitions. */
        @WithDefault("${quarkus.application.name}")
        String groupId();

        /** Names this replica in logs and job statuses; the group id and the process id when unset. */
        Optional<String> clientId();

        /** Jobs this replica runs at once. */
        @WithDefault("1")
        int maxConcurrentJobs();

        /**
         * How long the group waits for a silent replica (crashed, killed) before another takes its
         * partitions and resumes its jobs; heartbeats go every third of it, at most every 3 s.
         */
        @WithDefault("30s")
        Duration sessionTimeout();

        /**
         * Static group membership: a replica restarted with the same id (local mode's supervisor, a
         * StatefulSet pod) gets its partitions back and resumes its job at once, without a
         * rebalance. Unset: dynamic membership.
         */
        Optional<String> instanceId();

        /**
         * How long a broker may be away while a job runs: its writes are retried meanwhile and the
         * job keeps going; after this its next checkpoint or registration fails the job.
         */
        @WithDefault("5m")
        Duration outageBudget();
    }

    interface Health {
        /** How long the readiness check waits for the Kafka cluster to answer before saying DOWN. */
        @WithDefault("3s")
        Duration kafkaTimeout();
    }
}
