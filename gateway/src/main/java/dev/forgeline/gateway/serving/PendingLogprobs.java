package dev.forgeline.gateway.serving;

import dev.forgeline.gateway.engine.ModelRunner.TokenLogprob;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A stream's logprobs not sent yet, per choice. A chunk carries those of the tokens whose text it
 * holds; a token whose text is held back (part of a character or of a stop string) or has none (the
 * stop token) goes with its choice's next chunk, the finish chunk at the latest, so that the chunks
 * together hold every token's logprobs, as a response that is not streamed does.
 */
final class PendingLogprobs {
    private final Map<Integer, List<TokenLogprob>> pending = new HashMap<>();

    void add(int index, TokenLogprob logprob) {
        if (logprob != null) {
            pending.computeIfAbsent(index, i -> new ArrayList<>()).add(logprob);
        }
    }

    /** Choice {@code index}'s pending logprobs, now taken; null when there are none. */
    List<TokenLogprob> take(int index) {
        return pending.remove(index);
    }
}
