package dev.forgeline.gateway.serving;

import dev.forgeline.gateway.engine.BatchScheduler;
import dev.forgeline.gateway.engine.ModelRunner.Params;
import dev.forgeline.gateway.engine.ModelRunner.Sink;
import dev.forgeline.gateway.engine.ModelRunner.TokenLogprob;
import dev.forgeline.gateway.protocol.ApiError;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The choices of one request in flight (n per prompt): submits them to the model's scheduler,
 * gathers their tokens, and reports when all have ended. Callbacks arrive on the scheduler
 * thread, one at a time. Records the request's metrics and ends its span.
 */
final class ChoiceSet {

    /** One ended choice; {@code logprobs} per token when the request asked for them, else null. */
    record Result(int index, int[] prompt, int[] tokens, String text, String finishReason,
            List<TokenLogprob> logprobs) {}

    interface Listener {
        default void onDelta(int index, int token, String textDelta, TokenLogprob logprob) {}

        default void onFinish(Result result) {}

        void onAllDone(List<Result> results);

        void onError(ApiError error);
    }

    static final AttributeKey<String> MODEL = AttributeKey.stringKey("gen_ai.request.model");
    static final AttributeKey<Long> INPUT_TOKENS = AttributeKey.longKey("gen_ai.usage.input_tokens");
    static final AttributeKey<Long> OUTPUT_TOKENS = AttributeKey.longKey("gen_ai.usage.output_tokens");
    static final AttributeKey<List<String>> FINISH = AttributeKey.stringArrayKey("gen_ai.response.finish_reasons");

    private final String model;
    private final Listener listener;
    private final GatewayMetrics metrics;
    private final Span span;
    private final int promptTokens;
    private final long start = System.nanoTime();
    private final Result[] results;
    private final List<BatchScheduler.Ticket> tickets = new ArrayList<>();
    private final AtomicBoolean ended = new AtomicBoolean();
    private int remaining;
    private boolean firstToken;
    private int generated;

    private ChoiceSet(String model, int choices, int promptTokens, Listener listener, GatewayMetrics metrics, Span span) {
        this.model = model;
        this.listener = listener;
        this.metrics = metrics;
        this.span = span;
        this.promptTokens = promptTokens;
        this.results = new Result[choices];
        this.remaining = choices;
    }

    static ChoiceSet submit(String model, BatchScheduler scheduler, List<int[]> prompts, List<Params> params,
            int promptTokens, Listener listener, GatewayMetrics metrics, Span span) {
        return submit(model, scheduler, prompts, params, promptTokens, listener, metrics, span, () -> {});
    }

    /**
     * Submits choice i with {@code prompts.get(i)} and {@code params.get(i)}. If the queue is
     * full part-way, the choices already queued are cancelled and the whole request gets 429.
     * {@code onQueued} runs once every choice is queued and before any callback: a stream writes
     * its first chunk there, so that a refused request still gets a plain 429 response.
     */
    static ChoiceSet submit(String model, BatchScheduler scheduler, List<int[]> prompts, List<Params> params,
            int promptTokens, Listener listener, GatewayMetrics metrics, Span span, Runnable onQueued) {
        ChoiceSet set = new ChoiceSet(model, prompts.size(), promptTokens, listener, metrics, span);
        span.setAttribute(MODEL, model);
        span.setAttribute(INPUT_TOKENS, (long) promptTokens);
        synchronized (set) { // no callback may run before every choice is queued
            for (int i = 0; i < prompts.size(); i++) {
                int index = i;
                int[] prompt = prompts.get(i);
                try {
                    Params p = params.get(i);
                    set.tickets.add(scheduler.submit(prompt, p, set.sink(index, prompt, p.logprobs() != null)));
                } catch (BatchScheduler.QueueFull e) {
                    set.cancel();
                    set.end("rejected");
                    throw ApiError.queueFull(model, 1);
                }
            }
            onQueued.run();
        }
        return set;
    }

    /**
     * Submits the choices (as {@link #submit}) for a response that is not streamed: the future
     * completes with {@code response} of all results, built on a worker thread (echoed prompt
     * logprobs run a forward pass: not on the scheduler thread), or exceptionally with the
     * request's error.
     */
    static <T> CompletableFuture<T> collect(String model, BatchScheduler scheduler, List<int[]> prompts,
            List<Params> params, int promptTokens, GatewayMetrics metrics, Span span,
            Function<List<Result>, T> response) {
        CompletableFuture<T> result = new CompletableFuture<>();
        submit(model, scheduler, prompts, params, promptTokens, new Listener() {
            @Override
            public void onAllDone(List<Result> results) {
                CompletableFuture.supplyAsync(() -> response.apply(results), Infrastructure.getDefaultWorkerPool())
                        .whenComplete((r, e) -> {
                            if (e != null) {
                                result.completeExceptionally(e);
                            } else {
                                result.complete(r);
                            }
                        });
            }

            @Override
            public void onError(ApiError error) {
                result.completeExceptionally(error);
            }
        }, metrics, span);
        return result;
    }

    private Sink sink(int index, int[] prompt, boolean logprobs) {
        List<TokenLogprob> collected = logprobs ? new ArrayList<>() : null;
        return new Sink() {
            @Override
            public void onToken(int token, String textDelta, TokenLogprob logprob) {
                synchronized (ChoiceSet.this) {
                    if (ended.get()) {
                        return;
                    }
                    if (!firstToken) {
                        firstToken = true;
                        metrics.firstToken(model, System.nanoTime() - start);
                    }
                    if (collected != null && logprob != null) {
                        collected.add(logprob);
                    }
                    listener.onDelta(index, token, textDelta, logprob);
                }
            }

            @Override
            public void onFinish(String finishReason, int[] tokens, String text) {
                synchronized (ChoiceSet.this) {
                    if (ended.get()) {
                        return;
                    }
                    Result r = new Result(index, prompt, tokens, text, finishReason, collected);
                    results[index] = r;
                    generated += tokens.length;
                    listener.onFinish(r);
                    if (--remaining == 0) {
                        end("ok");
                        listener.onAllDone(List.of(results));
                    }
                }
            }

            @Override
            public void onError(RuntimeException e) {
                synchronized (ChoiceSet.this) {
                    if (ended.get()) {
                        return;
                    }
                    cancel();
                    end("error");
                    listener.onError(ApiError.of(e));
                }
            }
        };
    }

    /** The client went away: every choice leaves its batch at the next step. */
    void cancel() {
        tickets.forEach(BatchScheduler.Ticket::cancel);
        if (!ended.get()) {
            end("cancelled");
        }
    }

    private void end(String outcome) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        metrics.finished(model, System.nanoTime() - start, promptTokens, generated, outcome);
        span.setAttribute(OUTPUT_TOKENS, (long) generated);
        List<String> reasons = new ArrayList<>();
        for (Result r : results) {
            if (r != null) {
                reasons.add(r.finishReason());
            }
        }
        span.setAttribute(FINISH, reasons);
        if (!outcome.equals("ok")) {
            span.setStatus(outcome.equals("error") ? StatusCode.ERROR : StatusCode.UNSET, outcome);
        }
        span.end();
    }

    int generated() {
        return generated;
    }

    int promptTokens() {
        return promptTokens;
    }
}
