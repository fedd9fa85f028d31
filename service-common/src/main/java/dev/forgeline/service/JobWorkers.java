package dev.forgeline.service;

import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobWorker;
import dev.forgeline.jobs.JobWorkerConfig;
import io.opentelemetry.api.OpenTelemetry;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a {@link JobWorker} for every {@link JobHandler} bean of the service, from start-up to
 * shutdown; a service becomes a worker by declaring its handler as a bean. Ready while every
 * worker's poll loop is alive.
 */
@Startup
@Readiness
@ApplicationScoped
public class JobWorkers implements HealthCheck {
    private final List<JobWorker> workers = new ArrayList<>();
    private final Instance<JobHandler<?>> handlers;
    private final JobWorkerConfig config;

    JobWorkers(Instance<JobHandler<?>> handlers, ForgeConfig forge, OpenTelemetry openTelemetry,
               @ConfigProperty(name = "kafka.bootstrap.servers") String bootstrapServers) {
        this.handlers = handlers;
        Duration session = forge.worker().sessionTimeout();
        Duration heartbeat = session.dividedBy(3).compareTo(Duration.ofSeconds(3)) < 0 ? session.dividedBy(3) : Duration.ofSeconds(3);
        JobWorkerConfig c = JobWorkerConfig.of(bootstrapServers, forge.worker().groupId())
                .withTimeouts(Duration.ofMillis(500), session, heartbeat)
                .withMaxConcurrentJobs(forge.worker().maxConcurrentJobs())
                .withInstanceId(forge.worker().instanceId().orElse(null))
                .withOutageBudget(forge.worker().outageBudget())
                .withOpenTelemetry(openTelemetry);
        this.config = forge.worker().clientId().map(c::withClientId).orElse(c);
    }

    @PostConstruct
    void start() {
        for (JobHandler<?> handler : handlers) {
            workers.add(new JobWorker(config, handler).start());
        }
    }

    @PreDestroy
    void close() {
        workers.forEach(JobWorker::close);
    }

    @Override
    public HealthCheckResponse call() {
        var response = HealthCheckResponse.named("Job workers");
        boolean up = true;
        for (JobWorker worker : workers) {
            response.withData(worker.config().clientId(), worker.isAlive() ? "consuming" : "stopped");
            up &= worker.isAlive();
        }
        return response.status(up).build();
    }
}
