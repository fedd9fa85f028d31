package dev.forgeline.engine.generate;

import java.util.Arrays;
import java.util.Set;

/** One sequence in a {@link BatchDecoder}: its prompt, what it generated, and whether it is done. */
public final class Sequence {

    private static final java.util.concurrent.atomic.AtomicLong IDS = new java.util.concurrent.atomic.AtomicLong();

    private final long id = IDS.incrementAndGet();
    private final int[] prompt;
    private final SamplingParams params;
    private final Sampler sampler;
    private final TextStream text; // null without a decoder
    private final TokenListener listener;
    private final Set<Integer> stopTokens;
    private int[] generated = new int[32];
    private int count;
    private FinishReason finishReason;
    int row = -1; // cache row while active

    Sequence(int[] prompt, SamplingParams params, int vocab, TokenDecoder decoder, TokenListener listener) {
        this.prompt = prompt.clone();
        this.params = params;
        this.sampler = new Sampler(params, vocab, prompt);
        this.text = decoder == null ? null : new TextStream(decoder, params.stopStrings(), prompt);
        this.listener = listener;
        this.stopTokens = params.stopTokenIds();
    }

    /**
     * Samples from this sequence's logits, records and streams the token, and decides whether
     * the sequence ends here. {@code roomLeft} is false when the context window is full.
     */
    int advance(float[] logits, boolean roomLeft) {
        float[] raw = params.logprobs() == null ? null : logits.clone(); // the sampler changes logits in place
        int token = sampler.sample(logits);
        TokenLogprobs logprobs = raw == null ? null : TokenLogprobs.of(raw, token, params.logprobs());
        sampler.accept(token);
        if (count == generated.length) {
            generated = Arrays.copyOf(generated, count * 2);
        }
        generated[count++] = token;
        boolean stopToken = stopTokens.contains(token);
        String delta = null;
        if (text != null) {
            delta = stopToken ? "" : text.push(token);
        }
        if (stopToken || (text != null && text.stopped())) {
            finishReason = FinishReason.STOP;
        } else if ((params.maxTokens() != null && count >= params.maxTokens()) || !roomLeft) {
            finishReason = FinishReason.LENGTH;
        }
        if (finishReason != null && text != null && !text.stopped()) {
            delta = delta + text.flush();
        }
        if (listener != null) {
            listener.onToken(token, delta, logprobs);
        }
        return token;
    }

    void cancel() {
        if (finishReason == null) {
            finishReason = FinishReason.STOP;
        }
    }

    public long id() {
        return id;
    }

    public int[] prompt() {
        return prompt.clone();
    }

    public int[] tokens() {
        return Arrays.copyOf(generated, count);
    }

    int lastToken() {
        return generated[count - 1];
    }

    public int generatedCount() {
        return count;
    }

    public boolean isFinished() {
        return finishReason != null;
    }

    public FinishReason finishReason() {
        return finishReason;
    }

    /** Text so far (final text once finished); null without a decoder. */
    public String text() {
        return text == null ? null : text.text();
    }

    public SamplingParams params() {
        return params;
    }

    public Generation result() {
        return new Generation(prompt.clone(), tokens(), text(), finishReason);
    }
}
