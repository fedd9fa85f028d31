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
 * Turns conversations into training sequences with the base model's own chat template, so
 * the model is tuned on exactly the text it will see when served.
 *
 * <p><b>Which tokens are targets.</b> A template is opaque Jinja, so assistant spans are found
 * by rendering prefixes: for assistant message i, {@code render(messages[:i], generation prompt)}
 * is what a server sends the model, and {@code render(messages[:i+1])} is that plus the reply.
 * Each rendering is tokenised whole (as a server would) and only the tokens past the longest
 * common prefix with the tokens so far are new; the new tokens of a reply are its targets, and
 * everything else (system prompt, user turns, generation prompt) is context. Tokenising whole
 * renderings rather than pieces keeps merges across a boundary identical to inference; when a
 * later rendering re-tokenises earlier text differently, the sequence is cut back to the common
 * prefix and continues from there.
 *
 * <p><b>Stopping.</b> The model must learn to end its reply, so each reply's targets must hold
 * an end token (EOS or an end-of-turn token the generation config stops on). Templates such as
 * ChatML render one ({@code <|im_end|>}); templates that do not (plain concatenation) get the
 * tokenizer's EOS inserted after the reply, as a target.
 *
 * <p><b>Truncation.</b> Sequences longer than {@code maxLength} keep their first
 * {@code maxLength} tokens; one left with no target is dropped. Both are counted.
 */
public final class ChatEncoder {

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final int maxLength;
    private final boolean assistantOnly;
    private final Set<Integer> endTokens = new HashSet<>();
    private final int eos;

    /**
     * @param assistantOnly loss on assistant replies only (the default of SFT); false makes every
     *                      token but the first a target
     */
    public ChatEncoder(Tokenizer tokenizer, ChatTemplate template, int maxLength, boolean assistantOnly) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("max sequence length must be >= 2, was " + maxLength);
        }
        this.tokenizer = tokenizer;
        this.template = template;
        this.maxLength = maxLength;
        this.assistantOnly = assistantOnly;
        for (int id : tokenizer.eosTokenIds()) {
            endTokens.add(id);
        }
        this.eos = tokenizer.tokenId(tokenizer.eosToken()).orElseGet(() -> {
            if (tokenizer.eosTokenIds().length == 0) {
                throw new IllegalArgumentException("the tokenizer has no EOS token, so replies cannot be taught to stop");
            }
            return tokenizer.eosTokenIds()[0];
        });
        endTokens.add(eos);
    }

    /** Counts of what truncation did to a dataset. */
    public record Stats(int examples, int kept, int truncated, int dropped, long tokens, long targetTokens) {}

    /** Encodes a dataset; {@code stats} receives the truncation counts. */
    public List<EncodedExample> encodeAll(List<ChatExample> examples, Stats[] stats) {
        List<EncodedExample> out = new ArrayList<>(examples.size());
        int truncated = 0;
        int dropped = 0;
        long tokens = 0;
        long targets = 0;
        for (ChatExample e : examples) {
            EncodedExample full = encode(e);
            EncodedExample cut = truncate(full);
            if (cut == null) {
                dropped++;
                continue;
            }
            if (cut.length() < full.length()) {
                truncated++;
            }
            tokens += cut.length();
            targets += cut.targetCount();
            out.add(cut);
        }
        if (stats != null && stats.length > 0) {
            stats[0] = new Stats(examples.size(), out.size(), truncated, dropped, tokens, targets);
        }
        return out;
    }

    /** The whole conversation, not truncated. */
    public EncodedExample encode(ChatExample example) {
        Sequence s = new Sequence();
        List<ChatMessage> m = example.messages();
        for (int i = 0; i < m.size(); i++) {
            if (!m.get(i).role().equals("assistant")) {
                continue;
            }
            s.extend(tokenizer.encode(template.render(m.subList(0, i), true), false), false);
            int before = s.ids.size();
            s.extend(tokenizer.encode(template.render(m.subList(0, i + 1), false), false), true);
            boolean ended = false;
            for (int j = Math.min(before, s.ids.size()); j < s.ids.size(); j++) {
                ended |= s.target.get(j) && endTokens.contains(s.ids.get(j));
            }
            if (!ended) {
                s.insertEosAt.add(s.ids.size());
            }
        }
        if (!assistantOnly && !m.get(m.size() - 1).role().equals("assistant")) {
            // Trailing non-assistant turns carry no assistant target; they matter only when every token is.
            s.extend(tokenizer.encode(template.render(m, false), false), false);
        }
        return s.build();
    }

    /** The first {@code maxLength} tokens, or null when no target survives. */
    EncodedExample truncate(EncodedExample e) {
        EncodedExample cut = e.length() <= maxLength ? e
                : new EncodedExample(Arrays.copyOf(e.ids(), maxLength), Arrays.copyOf(e.target(), maxLength));
        return cut.targetCount() == 0 ? null : cut;
    }

    /** Rendered tokens plus the EOS tokens to insert after some of them. */
    private final class Sequence {
        final List<Integer> ids = new ArrayList<>();
        final List<Boolean> target = new ArrayList<>();
        final List<Integer> insertEosAt = new ArrayList<>(); // positions in ids before which EOS goes

        void extend(int[] rendered, boolean isTarget) {
            int c = 0;
            while (c < ids.size() && c < rendered.length && ids.get(c) == rendered[c]) {
                c++;
            }
            int common = c;
            while (ids.size() > common) {
                ids.remove(ids.size() - 1);
                target.remove(target.size() - 1);
            }
            insertEosAt.removeIf(p -> p > common);
            for (int i = common; i < rendered.length; i++) {
                ids.add(rendered[i]);
                target.add(isTarget);
            }
        }

        EncodedExample build() {
            int n = ids.size() + insertEosAt.size();
            int[] outIds = new int[n];
            boolean[] outTarget = new boolean[n];
            int k = 0;
            int next = 0;
            for (int i = 0; i <= ids.size(); i++) {
                while (next < insertEosAt.size() && insertEosAt.get(next) == i) {
                    outIds[k] = eos;
                    outTarget[k++] = true;
                    next++;
                }
                if (i < ids.size()) {
                    outIds[k] = ids.get(i);
                    outTarget[k++] = target.get(i);
                }
            }
            if (!assistantOnly && n > 0) {
                Arrays.fill(outTarget, 1, n, true);
            }
            return new EncodedExample(outIds, outTarget);
        }
    }
}
