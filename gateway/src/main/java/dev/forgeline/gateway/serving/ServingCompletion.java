package dev.forgeline.gateway.serving;

import dev.forgeline.gateway.engine.BatchScheduler;
import dev.forgeline.gateway.engine.ModelRunner;
import dev.forgeline.gateway.engine.ModelRunner.Params;
import dev.forgeline.gateway.engine.ModelRunner.TokenLogprob;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.OpenAiProtocol.Completion;
import dev.forgeline.gateway.protocol.OpenAiProtocol.CompletionChoice;
import dev.forgeline.gateway.protocol.OpenAiProtocol.CompletionLogprobs;
import dev.forgeline.gateway.protocol.OpenAiProtocol.CompletionRequest;
import dev.forgeline.gateway.protocol.OpenAiProtocol.Usage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * {@code /v1/completions} on an in-process model. Each prompt gets {@code n} choices, numbered
 * prompt by prompt as OpenAI does; {@code echo} puts the prompt in front of the text (and its
 * tokens in front of the logprobs, the first one without a logprob).
 */
@ApplicationScoped
public class ServingCompletion {

    @Inject
    GatewayMetrics metrics;

    @Inject
    Tracer tracer;

    public CompletableFuture<Completion> create(CompletionRequest req, BatchScheduler scheduler, EventStream stream) {
        ModelRunner runner = scheduler.runner();
        List<int[]> promptIds = new ArrayList<>();
        for (CompletionRequest.Prompt p : req.prompts()) {
            int[] ids = p.ids() != null ? p.ids() : runner.encode(p.text(), true);
            if (p.ids() != null) {
                try {
                    runner.decode(ids);
                } catch (IllegalArgumentException e) {
                    throw ApiError.invalid("prompt", e.getMessage());
                }
            }
            if (ids.length == 0) {
                throw ApiError.invalid("prompt", "the prompt is empty after tokenization");
            }
            LocalModels.budget(runner, "prompt", ids.length, req.maxTokens());
            promptIds.add(ids);
        }
        int n = req.choices();
        int maxTokens = req.maxTokens();
        List<int[]> prompts = new ArrayList<>();
        List<Params> params = new ArrayList<>();
        int promptTokens = 0;
        for (int[] ids : promptIds) {
            promptTokens += ids.length;
            for (int i = 0; i < n; i++) {
                prompts.add(ids);
                params.add(new Params(req.temperature(), req.top_p(), LocalModels.seed(req.seed(), i),
                        req.presence_penalty(), req.frequency_penalty(), req.stopList(), maxTokens, req.logprobs()));
            }
        }
        String id = LocalModels.newId("cmpl-");
        long created = LocalModels.now();
        int totalPrompt = promptTokens;
        if (maxTokens == 0) { // nothing to generate: only the echo, if asked
            List<ChoiceSet.Result> results = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                results.add(new ChoiceSet.Result(i, prompts.get(i), new int[0], "", "length",
                        req.logprobs() == null ? null : List.of()));
            }
            Completion c = response(req, runner, id, created, totalPrompt, results);
            if (stream != null) {
                c.choices().forEach(ch -> stream.send(new Completion(id, created, req.model(), List.of(ch), null)));
                if (req.includeUsage()) {
                    stream.send(new Completion(id, created, req.model(), List.of(), c.usage()));
                }
                stream.done();
                return CompletableFuture.completedFuture(null);
            }
            return CompletableFuture.completedFuture(c);
        }
        Span span = tracer.spanBuilder("completion " + req.model()).startSpan();
        if (stream != null) {
            ChoiceSet set = ChoiceSet.submit(req.model(), scheduler, prompts, params, totalPrompt,
                    new ChoiceSet.Listener() {
                        private final PendingLogprobs pending = new PendingLogprobs();
                        private final Map<Integer, Integer> offsets = new HashMap<>();

                        @Override
                        public void onDelta(int index, int token, String textDelta, TokenLogprob logprob) {
                            pending.add(index, logprob);
                            if (!textDelta.isEmpty()) {
                                stream.send(chunk(req, id, created, index, textDelta, takePending(index), null));
                            }
                        }

                        @Override
                        public void onFinish(ChoiceSet.Result r) {
                            stream.send(chunk(req, id, created, r.index(), "", takePending(r.index()), r.finishReason()));
                        }

                        private CompletionLogprobs takePending(int index) {
                            List<TokenLogprob> tokens = pending.take(index);
                            if (tokens == null) {
                                return null;
                            }
                            int offset = offsets.computeIfAbsent(index,
                                    i -> req.isEcho() ? textLength(runner, prompts.get(i)) : 0);
                            CompletionLogprobs block = logprobs(runner, tokens, offset);
                            offsets.put(index, offset + block.tokens().stream().mapToInt(String::length).sum());
                            return block;
                        }

                        @Override
                        public void onAllDone(List<ChoiceSet.Result> results) {
                            if (req.includeUsage()) {
                                int completion = results.stream().mapToInt(r -> r.tokens().length).sum();
                                stream.send(new Completion(id, created, req.model(), List.of(),
                                        Usage.of(totalPrompt, completion)));
                            }
                            stream.done();
                        }

                        @Override
                        public void onError(ApiError error) {
                            stream.fail(error);
                        }
                    }, metrics, span, () -> {
                        if (req.isEcho()) {
                            for (int i = 0; i < prompts.size(); i++) {
                                stream.send(chunk(req, id, created, i, runner.decode(prompts.get(i)), null, null));
                            }
                        }
                    });
            stream.onClose(set::cancel);
            return CompletableFuture.completedFuture(null);
        }
        return ChoiceSet.collect(req.model(), scheduler, prompts, params, totalPrompt, metrics, span,
                results -> response(req, runner, id, created, totalPrompt, results));
    }

    private static Completion chunk(CompletionRequest req, String id, long created, int index, String text,
            CompletionLogprobs logprobs, String finishReason) {
        return new Completion(id, created, req.model(),
                List.of(new CompletionChoice(index, text, logprobs, finishReason)), null);
    }

    private static Completion response(CompletionRequest req, ModelRunner runner, String id, long created,
            int promptTokens, List<ChoiceSet.Result> results) {
        List<CompletionChoice> choices = new ArrayList<>();
        int completion = 0;
        for (ChoiceSet.Result r : results) {
            completion += r.tokens().length;
            String text = req.isEcho() ? runner.decode(r.prompt()) + r.text() : r.text();
            CompletionLogprobs logprobs = req.logprobs() == null ? null : logprobs(runner, r, req.logprobs(), req.isEcho());
            choices.add(new CompletionChoice(r.index(), text, logprobs, r.finishReason()));
        }
        return new Completion(id, created, req.model(), choices, Usage.of(promptTokens, completion));
    }

    /**
     * The choice's logprobs: the generated tokens' from their sampling steps; with echo, the
     * prompt's in front, scored from its first token (which has none).
     */
    private static CompletionLogprobs logprobs(ModelRunner runner, ChoiceSet.Result r, int top, boolean echo) {
        List<TokenLogprob> scored = new ArrayList<>();
        if (echo) {
            int[] prompt = r.prompt();
            int[] first = {prompt[0]};
            int[] rest = java.util.Arrays.copyOfRange(prompt, 1, prompt.length);
            scored.add(new TokenLogprob(prompt[0], Double.NaN, null, null)); // NaN: no logprob
            scored.addAll(LocalModels.score(runner, first, rest, top));
        }
        scored.addAll(r.logprobs());
        return logprobs(runner, scored, 0);
    }

    /** The legacy block for {@code tokens}, the first at text offset {@code offset}. */
    private static CompletionLogprobs logprobs(ModelRunner runner, List<TokenLogprob> tokens, int offset) {
        List<String> texts = new ArrayList<>();
        List<Double> tokenLogprobs = new ArrayList<>();
        List<Map<String, Double>> tops = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (TokenLogprob lp : tokens) {
            String t = runner.tokenText(lp.token());
            texts.add(t);
            offsets.add(offset);
            offset += t.length();
            if (Double.isNaN(lp.logprob())) {
                tokenLogprobs.add(null);
                tops.add(null);
                continue;
            }
            tokenLogprobs.add(lp.logprob());
            Map<String, Double> alternatives = new LinkedHashMap<>();
            for (int j = 0; j < lp.topIds().length; j++) {
                alternatives.putIfAbsent(runner.tokenText(lp.topIds()[j]), lp.topLogprobs()[j]);
            }
            tops.add(alternatives);
        }
        return new CompletionLogprobs(texts, tokenLogprobs, tops, offsets);
    }

    private static int textLength(ModelRunner runner, int[] ids) {
        int n = 0;
        for (int id : ids) {
            n += runner.tokenText(id).length();
        }
        return n;
    }
}
