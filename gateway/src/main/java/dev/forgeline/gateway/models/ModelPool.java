package dev.forgeline.gateway.models;

import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.hub.HubModelResolver;
import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.gateway.engine.BatchScheduler;
import dev.forgeline.gateway.engine.LlmEngineRunner;
import dev.forgeline.gateway.engine.ModelRunner;
import dev.forgeline.gateway.protocol.ApiError;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jboss.logging.Logger;

/**
 * The in-process models that are loaded, each with its {@link BatchScheduler}. A model loads on
 * its first request (one load at a time, on a loader thread); a request that waits longer than
 * the load timeout gets 503 while the load goes on. After a load, idle models unload, least
 * recently used first, until the loaded weights fit the memory budget.
 */
@ApplicationScoped
public class ModelPool {

    private static final Logger LOG = Logger.getLogger(ModelPool.class);

    private final Map<String, CompletableFuture<BatchScheduler>> loaded = new ConcurrentHashMap<>();
    private final ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "model-loader");
        t.setDaemon(true);
        return t;
    });

    @Inject
    GatewayConfig config;

    @Inject
    MeterRegistry meters;

    private volatile ComputeTarget target; // set at startup, read by the loader thread

    /** The scheduler of a loaded model, loading it first if needed. */
    public BatchScheduler acquire(ModelEntry entry) {
        CompletableFuture<BatchScheduler> f = loaded.computeIfAbsent(entry.id(),
                id -> CompletableFuture.supplyAsync(() -> load(entry), loader));
        try {
            return f.get(config.loadTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw ApiError.loading(entry.id(), 5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.unavailable("interrupted while loading " + entry.id());
        } catch (ExecutionException e) {
            loaded.remove(entry.id(), f); // let a later request try again
            LOG.errorf(e.getCause(), "cannot load model %s", entry.id());
            throw ApiError.unavailable("The model '" + entry.id() + "' could not be loaded");
        }
    }

    private BatchScheduler load(ModelEntry entry) {
        long t0 = System.nanoTime();
        Path dir = entry.dir();
        if (dir == null) {
            try {
                dir = HubModelResolver.fromEnvironment().resolve(entry.hubId());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        ModelRunner runner = LlmEngineRunner.load(dir, target.device(), target.dtype(), config.maxContext(), config.weights());
        BatchScheduler scheduler = new BatchScheduler(entry.id(), runner, config.maxBatch(), config.maxWaiting(),
                config.prefillTokensPerStep());
        Tags tags = Tags.of("model", entry.id());
        Gauge.builder("forge.gateway.requests.running", scheduler, BatchScheduler::running).tags(tags)
                .description("sequences decoding now").strongReference(false).register(meters);
        Gauge.builder("forge.gateway.requests.waiting", scheduler, BatchScheduler::waiting).tags(tags)
                .description("sequences waiting for a batch row").strongReference(false).register(meters);
        LOG.infof("loaded model %s from %s in %d ms (%d MiB of weights)", entry.id(), dir,
                (System.nanoTime() - t0) / 1_000_000, runner.weightBytes() >> 20);
        loader.execute(() -> evictBeyondBudget(entry.id()));
        return scheduler;
    }

    /**
     * Device and dtype, parsed once at startup: a value the engine cannot run stops the gateway with
     * a message that names the setting, instead of failing every load later.
     */
    void checkTarget(@Observes StartupEvent ignored) {
        try {
            target = ComputeTarget.parse(config.device(), config.dtype());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("forge.gateway.device=" + config.device() + ", forge.gateway.dtype="
                    + config.dtype() + ": " + e.getMessage(), e);
        }
    }


    private void evictBeyondBudget(String keep) {
        long budget = config.memoryBudgetMib() << 20;
        List<Map.Entry<String, BatchScheduler>> ready = new ArrayList<>();
        loaded.forEach((id, f) -> {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                ready.add(Map.entry(id, f.join()));
            }
        });
        long total = ready.stream().mapToLong(e -> e.getValue().runner().weightBytes()).sum();
        ready.sort(Comparator.comparingLong(e -> e.getValue().lastUsedNanos()));
        for (Map.Entry<String, BatchScheduler> e : ready) {
            if (total <= budget) {
                break;
            }
            if (e.getKey().equals(keep) || !e.getValue().idle()) {
                continue;
            }
            unload(e.getKey());
            total -= e.getValue().runner().weightBytes();
        }
    }

    /** Unloads a model now (its queued and running sequences fail). */
    public void unload(String id) {
        CompletableFuture<BatchScheduler> f = loaded.remove(id);
        if (f != null && f.isDone() && !f.isCompletedExceptionally()) {
            BatchScheduler s = f.join();
            s.close();
            s.runner().close();
            meters.find("forge.gateway.requests.running").tag("model", id).meters().forEach(meters::remove);
            meters.find("forge.gateway.requests.waiting").tag("model", id).meters().forEach(meters::remove);
            LOG.infof("unloaded model %s", id);
        }
    }

    public List<String> loadedIds() {
        return loaded.entrySet().stream().filter(e -> e.getValue().isDone() && !e.getValue().isCompletedExceptionally())
                .map(Map.Entry::getKey).sorted().toList();
    }

    /** The scheduler of a model if it is loaded. */
    public java.util.Optional<BatchScheduler> ifLoaded(String id) {
        CompletableFuture<BatchScheduler> f = loaded.get(id);
        return f != null && f.isDone() && !f.isCompletedExceptionally() ? java.util.Optional.of(f.join())
                : java.util.Optional.empty();
    }

    @PreDestroy
    void close() {
        new ArrayList<>(loaded.keySet()).forEach(this::unload);
        loader.shutdownNow();
    }
}
