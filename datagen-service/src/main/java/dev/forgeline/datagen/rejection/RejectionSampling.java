package dev.forgeline.datagen.rejection;

import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.datagen.teacher.Teacher;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Samples {@code num_samples} answers per prompt from the policy, one request with {@code n} each
 * (the gateway decodes them as one batch), at most {@code max_concurrency} requests in flight, and
 * scores every answer as its request returns. Retries are the policy's own ({@code RetryingTeacher});
 * a request that still fails ends the run with its error. Prompts already done (a resumed job) are
 * not asked again.
 */
public final class RejectionSampling {

    /** Told of each finished prompt, on the run's thread, in completion order. */
    public interface Listener {
        void done(PromptSamples samples, Progress progress);
    }

    /** Counts so far: prompts done (of all), answers, policy tokens. */
    public record Progress(int promptsDone, int prompts, long answers, long promptTokens, long completionTokens) {}

    private final Teacher policy;
    private final Scorer scorer;
    private final RejectionSamplingRequest request;
    private final BooleanSupplier cancelled;
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong completionTokens = new AtomicLong();

    public RejectionSampling(Teacher policy, Scorer scorer, RejectionSamplingRequest request, BooleanSupplier cancelled) {
        this.policy = policy;
        this.scorer = scorer;
        this.request = request;
        this.cancelled = cancelled;
    }

    /** Every prompt's samples in prompt order, the {@code done} ones as they were; empty list on cancel. */
    public List<PromptSamples> run(List<SamplePrompt> prompts, Map<Integer, PromptSamples> done, Listener listener)
            throws InterruptedException {
        List<SamplePrompt> todo = prompts.stream().filter(p -> !done.containsKey(p.index())).toList();
        Map<Integer, PromptSamples> results = new java.util.TreeMap<>(done);
        // a resumed job counts the saved prompts' tokens too, so that its card matches an uninterrupted run's
        done.values().forEach(s -> {
            promptTokens.addAndGet(s.promptTokens());
            completionTokens.addAndGet(s.completionTokens());
        });
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(request.maxConcurrency(), Math.max(1, todo.size())), r -> {
            Thread t = new Thread(r, "rejection-sampling");
            t.setDaemon(true);
            return t;
        });
        ExecutorCompletionService<PromptSamples> completion = new ExecutorCompletionService<>(pool);
        List<Future<PromptSamples>> futures = new ArrayList<>();
        try {
            for (SamplePrompt p : todo) futures.add(completion.submit(() -> sampleAndScore(p)));
            long answers = done.values().stream().mapToLong(s -> s.answers().size()).sum();
            for (int i = 0; i < todo.size(); i++) {
                if (cancelled.getAsBoolean()) return List.of();
                PromptSamples s;
                try {
                    s = completion.take().get();
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof RuntimeException re) throw re;
                    throw new IllegalStateException(cause);
                }
                results.put(s.prompt().index(), s);
                answers += s.answers().size();
                listener.done(s, new Progress(results.size(), prompts.size(), answers, promptTokens.get(), completionTokens.get()));
            }
        } catch (CancellationException e) {
            return List.of();
        } finally {
            futures.forEach(f -> f.cancel(true));
            pool.shutdownNow();
        }
        return new ArrayList<>(results.values());
    }

    private PromptSamples sampleAndScore(SamplePrompt p) {
        if (cancelled.getAsBoolean()) throw new CancellationException();
        Teacher.Samples samples = policy.sample(p.messages(), request.numSamples(), request.temperature(), request.topP(),
                request.maxTokens(), request.seed() + p.index());
        promptTokens.addAndGet(samples.promptTokens());
        completionTokens.addAndGet(samples.completionTokens());
        List<Double> scores = new ArrayList<>(samples.texts().size());
        for (String answer : samples.texts()) {
            OptionalDouble s = scorer.score(p, answer);
            scores.add(s.isPresent() ? s.getAsDouble() : null);
        }
        return new PromptSamples(p, samples.texts(), scores, samples.promptTokens(), samples.completionTokens());
    }

    public long promptTokens() {
        return promptTokens.get();
    }

    public long completionTokens() {
        return completionTokens.get();
    }
}
