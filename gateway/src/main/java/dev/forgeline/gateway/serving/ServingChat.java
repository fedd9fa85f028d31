package dev.forgeline.gateway.serving;

import dev.forgeline.gateway.engine.BatchScheduler;
import dev.forgeline.gateway.engine.ModelRunner;
import dev.forgeline.gateway.engine.ModelRunner.Params;
import dev.forgeline.gateway.engine.ModelRunner.TokenLogprob;
import dev.forgeline.gateway.engine.ModelRunner.Turn;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatChoice;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatChunkChoice;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatCompletion;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatCompletionChunk;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatCompletionRequest;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatLogprobToken;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatLogprobs;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ChatMessage;
import dev.forgeline.gateway.protocol.OpenAiProtocol.Delta;
import dev.forgeline.gateway.protocol.OpenAiProtocol.TopLogprob;
import dev.forgeline.gateway.protocol.OpenAiProtocol.Usage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** {@code /v1/chat/completions} on an in-process model: protocol objects in, engine calls, protocol objects out. */
@ApplicationScoped
public class ServingChat {

    @Inject
    GatewayMetrics metrics;

    @Inject
    Tracer tracer;

    /** Renders, checks and queues the request. Streams into {@code stream} when given, else completes the future. */
    public CompletableFuture<ChatCompletion> create(ChatCompletionRequest req, BatchScheduler scheduler,
            EventStream stream) {
        ModelRunner runner = scheduler.runner();
        List<Turn> turns = new ArrayList<>();
        for (int i = 0; i < req.messages().size(); i++) {
            turns.add(new Turn(req.messages().get(i).role(), req.messages().get(i).text(i)));
        }
        int[] prompt;
        try {
            prompt = runner.chatPrompt(turns);
        } catch (UnsupportedOperationException e) {
            throw ApiError.invalid("messages", "The model '" + req.model() + "' has no chat template; use /v1/completions");
        }
        String param = req.max_completion_tokens() != null ? "max_completion_tokens" : "messages";
        int budget = LocalModels.budget(runner, param, prompt.length, req.maxTokens());
        int n = req.choices();
        List<int[]> prompts = Collections.nCopies(n, prompt);
        List<Params> params = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            params.add(new Params(req.temperature(), req.top_p(), LocalModels.seed(req.seed(), i),
                    req.presence_penalty(), req.frequency_penalty(), req.stopList(), budget,
                    req.wantsLogprobs() ? (req.top_logprobs() == null ? 0 : req.top_logprobs()) : null));
        }
        String id = LocalModels.newId("chatcmpl-");
        long created = LocalModels.now();
        Span span = tracer.spanBuilder("chat " + req.model()).startSpan();
        if (stream != null) {
            List<ChatChunkChoice> roles = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                roles.add(new ChatChunkChoice(i, new Delta("assistant", ""), null, null));
            }
            ChoiceSet set = ChoiceSet.submit(req.model(), scheduler, prompts, params, prompt.length,
                    new StreamListener(req, runner, id, created, prompt.length, stream), metrics, span,
                    () -> stream.send(new ChatCompletionChunk(id, created, req.model(), roles, null)));
            stream.onClose(set::cancel);
            return CompletableFuture.completedFuture(null);
        }
        return ChoiceSet.collect(req.model(), scheduler, prompts, params, prompt.length, metrics, span,
                results -> response(req, runner, id, created, prompt.length, results));
    }

    private static ChatCompletion response(ChatCompletionRequest req, ModelRunner runner, String id, long created,
            int promptTokens, List<ChoiceSet.Result> results) {
        List<ChatChoice> choices = new ArrayList<>();
        int completion = 0;
        for (ChoiceSet.Result r : results) {
            completion += r.tokens().length;
            ChatLogprobs logprobs = req.wantsLogprobs() ? logprobs(runner, r.logprobs()) : null;
            choices.add(new ChatChoice(r.index(), ChatMessage.assistant(r.text()), logprobs, r.finishReason()));
        }
        return new ChatCompletion(id, created, req.model(), choices, Usage.of(promptTokens, completion));
    }

    /** OpenAI's chat logprobs of tokens as their sampling steps reported them. */
    static ChatLogprobs logprobs(ModelRunner runner, List<TokenLogprob> tokens) {
        List<ChatLogprobToken> content = new ArrayList<>();
        for (TokenLogprob lp : tokens) {
            List<TopLogprob> alternatives = new ArrayList<>();
            for (int j = 0; j < lp.topIds().length; j++) {
                String t = runner.tokenText(lp.topIds()[j]);
                alternatives.add(new TopLogprob(t, lp.topLogprobs()[j], LocalModels.bytes(t)));
            }
            String token = runner.tokenText(lp.token());
            content.add(new ChatLogprobToken(token, lp.logprob(), LocalModels.bytes(token), alternatives));
        }
        return new ChatLogprobs(content);
    }

    /** Chunks as tokens arrive: content deltas, a finish chunk per choice, the usage chunk, [DONE]. */
    private static final class StreamListener implements ChoiceSet.Listener {
        private final ChatCompletionRequest req;
        private final ModelRunner runner;
        private final PendingLogprobs pending = new PendingLogprobs();
        private final String id;
        private final long created;
        private final int promptTokens;
        private final EventStream stream;

        StreamListener(ChatCompletionRequest req, ModelRunner runner, String id, long created, int promptTokens,
                EventStream stream) {
            this.req = req;
            this.runner = runner;
            this.id = id;
            this.created = created;
            this.promptTokens = promptTokens;
            this.stream = stream;
        }

        private void chunk(ChatChunkChoice choice) {
            stream.send(new ChatCompletionChunk(id, created, req.model(), List.of(choice), null));
        }

        @Override
        public void onDelta(int index, int token, String textDelta, TokenLogprob logprob) {
            pending.add(index, logprob);
            if (!textDelta.isEmpty()) {
                chunk(new ChatChunkChoice(index, new Delta(null, textDelta), takePending(index), null));
            }
        }

        @Override
        public void onFinish(ChoiceSet.Result r) {
            chunk(new ChatChunkChoice(r.index(), new Delta(null, null), takePending(r.index()), r.finishReason()));
        }

        private ChatLogprobs takePending(int index) {
            List<TokenLogprob> tokens = pending.take(index);
            return tokens == null ? null : logprobs(runner, tokens);
        }

        @Override
        public void onAllDone(List<ChoiceSet.Result> results) {
            if (req.includeUsage()) {
                int completion = results.stream().mapToInt(r -> r.tokens().length).sum();
                stream.send(new ChatCompletionChunk(id, created, req.model(), List.of(),
                        Usage.of(promptTokens, completion)));
            }
            stream.done();
        }

        @Override
        public void onError(ApiError error) {
            stream.fail(error);
        }
    }
}
