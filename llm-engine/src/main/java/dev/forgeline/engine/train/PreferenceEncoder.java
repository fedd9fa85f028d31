package dev.forgeline.engine.train;

import dev.forgeline.engine.tokenizer.ChatMessage;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Encodes preference pairs with the model's chat template, as {@link ChatEncoder} does for SFT:
 * the prompt is rendered with the generation prompt, and a reply's tokens are those of
 * {@code render(prompt + [reply])} past its longest common prefix with the prompt's tokens.
 * Both replies therefore follow the same prompt tokens (up to a merge across the boundary,
 * which the tokeniser makes the same way at inference).
 *
 * <p>A reply whose rendering holds no end token gets the tokenizer's EOS appended, as in SFT.
 * <b>Formatting tokens</b> (the tokenizer's special tokens: chat headers, end-of-turn, EOS) are
 * masked out of the log-probabilities by default, as Llama 3.1 does for DPO: they are the same
 * in both replies, and pushing one reply's terminator down teaches the model not to stop.
 * With {@code maskFormatTokens} false every reply token counts.
 *
 * <p>Pairs longer than {@code maxLength} keep their first {@code maxLength} tokens; a pair
 * left with no target in either reply is dropped.
 */
public final class PreferenceEncoder {

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final int maxLength;
    private final boolean maskFormatTokens;
    private final Set<Integer> endTokens = new HashSet<>();
    private final int eos;

    public PreferenceEncoder(Tokenizer tokenizer, ChatTemplate template, int maxLength, boolean maskFormatTokens) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("max sequence length must be >= 2, was " + maxLength);
        }
        this.tokenizer = tokenizer;
        this.template = template;
        this.maxLength = maxLength;
        this.maskFormatTokens = maskFormatTokens;
        for (int id : tokenizer.eosTokenIds()) {
            endTokens.add(id);
        }
        this.eos = tokenizer.tokenId(tokenizer.eosToken()).orElseGet(() -> {
            if (tokenizer.eosTokenIds().length == 0) {
                throw new IllegalArgumentException("the tokenizer has no EOS token");
            }
            return tokenizer.eosTokenIds()[0];
        });
        endTokens.add(eos);
    }

    /** Pairs kept, truncated (either reply) and dropped, and target tokens over both replies. */
    public record Stats(int pairs, int kept, int truncated, int dropped, long targetTokens) {}

    public List<PreferencePair> encodeAll(List<PreferenceExample> examples, Stats[] stats) {
        List<PreferencePair> out = new ArrayList<>(examples.size());
        int truncated = 0;
        long targets = 0;
        for (PreferenceExample e : examples) {
            PreferencePair full = encode(e);
            EncodedExample c = cut(full.chosen());
            EncodedExample r = cut(full.rejected());
            if (c.targetCount() == 0 || r.targetCount() == 0) {
                continue;
            }
            if (c.length() < full.chosen().length() || r.length() < full.rejected().length()) {
                truncated++;
            }
            targets += c.targetCount() + r.targetCount();
            out.add(new PreferencePair(c, r));
        }
        if (stats != null && stats.length > 0) {
            stats[0] = new Stats(examples.size(), out.size(), truncated, examples.size() - out.size(), targets);
        }
        return out;
    }

    /** The whole pair, not truncated. */
    public PreferencePair encode(PreferenceExample e) {
        int[] prompt = tokenizer.encode(template.render(e.prompt(), true), false);
        int[] chosen = render(e.prompt(), e.chosen());
        int[] rejected = render(e.prompt(), e.rejected());
        return new PreferencePair(reply(chosen, common(prompt, chosen)), reply(rejected, common(prompt, rejected)));
    }

    private int[] render(List<ChatMessage> prompt, ChatMessage reply) {
        List<ChatMessage> all = new ArrayList<>(prompt);
        all.add(reply);
        return tokenizer.encode(template.render(all, false), false);
    }

    private EncodedExample reply(int[] rendered, int promptLength) {
        boolean ended = false;
        for (int i = promptLength; i < rendered.length; i++) {
            ended |= endTokens.contains(rendered[i]);
        }
        int[] ids = ended ? rendered : Arrays.copyOf(rendered, rendered.length + 1);
        if (!ended) {
            ids[rendered.length] = eos;
        }
        boolean[] target = new boolean[ids.length];
        for (int i = promptLength; i < ids.length; i++) {
            target[i] = !(maskFormatTokens && (tokenizer.isSpecial(ids[i]) || endTokens.contains(ids[i])));
        }
        return new EncodedExample(ids, target);
    }

    private EncodedExample cut(EncodedExample e) {
        return e.length() <= maxLength ? e
                : new EncodedExample(Arrays.copyOf(e.ids(), maxLength), Arrays.copyOf(e.target(), maxLength));
    }

    private static int common(int[] a, int[] b) {
        int c = 0;
        while (c < a.length && c < b.length && a[c] == b[c]) {
            c++;
        }
        return c;
    }
}
