package dev.forgeline.gateway.engine;

import java.util.List;

/**
 * Everything the gateway needs from one loaded model, and the only gateway type that the
 * engine's API reaches through ({@link LlmEngineRunner} adapts llm-engine to it), so an engine
 * change touches one class.
 */
public interface ModelRunner extends AutoCloseable {

    /** Positions a sequence may hold, prompt included. */
    int contextLength();

    /** Text to ids; {@code addSpecialTokens} as the tokenizer's post-processor would (BOS). */
    int[] encode(String text, boolean addSpecialTokens);

    /** Ids to text, special tokens skipped. */
    String decode(int[] ids);

    /** The text of one token as logprobs report it (special tokens included). */
    String tokenText(int id);

    /**
     * The prompt ids of a conversation rendered by the model's chat template, with the
     * assistant's generation prompt appended.
     *
     * @throws UnsupportedOperationException when the model has no chat template
     */
    int[] chatPrompt(List<Turn> messages);

    /** A batch of up to {@code capacity} sequences decoded together (continuous batching). */
    DecodeBatch newBatch(int capacity);

    /**
     * Log probabilities of {@code tokens} following {@code context} (one entry per token), with
     * the {@code top} most likely alternatives at each position: the raw model distribution, as
     * vLLM reports it. {@code context} needs at least one token. For prompt tokens (echo); a
     * generated token's logprobs come from the step that sampled it ({@link Sink#onToken}).
     */
    List<TokenLogprob> score(int[] context, int[] tokens, int top);

    /** Host or device bytes the weights take (for the memory budget). */
    long weightBytes();

    @Override
    void close();

    /** One chat turn. */
    record Turn(String role, String content) {}

    /** A token's log probability and the best alternatives (id, logprob), most likely first. */
    record TokenLogprob(int token, double logprob, int[] topIds, double[] topLogprobs) {}

    /**
     * Sampling settings of one sequence; null fields fall back to the model's
     * generation_config.json, then to OpenAI's defaults. {@code logprobs}: null for none, else each
     * token's logprob with that many alternatives, from the step that sampled it.
     */
    record Params(Double temperature, Double topP, Long seed, Double presencePenalty, Double frequencyPenalty,
            List<String> stop, Integer maxTokens, Integer logprobs) {}

    /** Receives a sequence's tokens on the scheduler thread. */
    interface Sink {
        /** One sampled token, the text it made final (possibly empty), its logprobs when asked for (else null). */
        void onToken(int token, String textDelta, TokenLogprob logprob);

        /** The sequence ended: "stop" or "length"; {@code tokens} includes a stop token. */
        void onFinish(String finishReason, int[] tokens, String text);

        /** The sequence failed; nothing more follows. */
        default void onError(RuntimeException e) {}
    }

    /** A set of sequences decoded together; driven by one thread. */
    interface DecodeBatch extends AutoCloseable {
        /** Prefills the prompt and samples its first token; the sink may already be finished. */
        Slot add(int[] prompt, Params params, Sink sink);

        /** One token for every active sequence; finished ones leave. */
        void step();

        /** Ends a sequence early (its client went away) and frees its row. */
        void remove(Slot slot);

        int active();

        boolean hasRoom();

        @Override
        void close();
    }

    /** A sequence's handle in its batch. */
    interface Slot {
        boolean isFinished();
    }
}
