package dev.forgeline.contracts;

import java.util.List;
import java.util.Map;

/** Every Kafka topic Forgeline uses, with the settings it is created with. Keys are job or model ids. */
public final class Topics {
    private Topics() {}

    public static final String DATAGEN_REQUESTS = "forge.datagen.requests";
    public static final String TRAINING_REQUESTS = "forge.training.requests";
    public static final String EVAL_REQUESTS = "forge.eval.requests";
    /** {@link RejectionSamplingRequest}s, handled by datagen-service. */
    public static final String REJECTION_SAMPLING_REQUESTS = "forge.rejection-sampling.requests";
    /** Compacted: the latest {@link JobStatus} per job id. */
    public static final String JOBS = "forge.jobs";
    /** Append-only progress: {@link JobEvent}. */
    public static final String JOB_EVENTS = "forge.job-events";
    /** Compacted: the latest {@link DatasetCard} per dataset id. */
    public static final String DATASETS = "forge.datasets";
    /** Compacted: the model registry, the latest {@link ModelCard} per model id. */
    public static final String MODELS = "forge.models";
    /**
     * Compacted: {@link JobCancel} per job id. Every worker tails it, so a cancel reaches a job
     * whose request partition is paused (it is running) and one whose request has not been read yet.
     */
    public static final String JOB_CANCELS = "forge.job-cancels";
    /** Dead letters: {@link DeadLetter}. */
    public static final String DLQ = "forge.dlq";

    /** How a topic is created. Request topics have several partitions so that worker replicas share them. */
    public record TopicSpec(String name, int partitions, boolean compacted) {
        public Map<String, String> configs() {
            return compacted
                    ? Map.of("cleanup.policy", "compact", "min.compaction.lag.ms", "60000")
                    : Map.of("cleanup.policy", "delete", "retention.ms", String.valueOf(7L * 24 * 3600 * 1000));
        }
    }

    public static final List<TopicSpec> ALL = List.of(
            new TopicSpec(DATAGEN_REQUESTS, 3, false),
            new TopicSpec(TRAINING_REQUESTS, 3, false),
            new TopicSpec(EVAL_REQUESTS, 3, false),
            new TopicSpec(REJECTION_SAMPLING_REQUESTS, 3, false),
            new TopicSpec(JOBS, 3, true),
            new TopicSpec(JOB_EVENTS, 3, false),
            new TopicSpec(JOB_CANCELS, 1, true),
            new TopicSpec(DATASETS, 1, true),
            new TopicSpec(MODELS, 1, true),
            new TopicSpec(DLQ, 1, false));
}
