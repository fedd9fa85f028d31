package dev.forgeline.jobs;

import dev.forgeline.contracts.JobRequest;

/**
 * What a worker does with one kind of request. {@link #run} is called off the poll thread and may
 * take hours; it should check {@link JobContext#isCancelled()} between steps and return (or throw)
 * promptly once it is true, and call {@link JobContext#checkpoint} after each durable save so that
 * another replica can resume from there.
 */
public interface JobHandler<R extends JobRequest> {
    /** datagen, train or eval: the {@code kind} of the job's status. */
    String kind();

    /** The topic this handler's requests arrive on. */
    String requestTopic();

    Class<R> requestType();

    /**
     * Runs the job. Return a result for SUCCEEDED; throw for FAILED (the exception's message becomes
     * the job's error). Returning or throwing after a cancel ends the job CANCELLED.
     */
    JobResult run(JobContext<R> ctx) throws Exception;

    @FunctionalInterface
    interface Body<R extends JobRequest> {
        JobResult run(JobContext<R> ctx) throws Exception;
    }

    static <R extends JobRequest> JobHandler<R> of(String kind, String requestTopic, Class<R> requestType, Body<R> body) {
        return new JobHandler<>() {
            @Override public String kind() { return kind; }
            @Override public String requestTopic() { return requestTopic; }
            @Override public Class<R> requestType() { return requestType; }
            @Override public JobResult run(JobContext<R> ctx) throws Exception { return body.run(ctx); }
        };
    }
}
