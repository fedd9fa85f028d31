package dev.forgeline.engine.generate;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.CpuDecodeKernel;
import dev.forgeline.engine.model.KvCache;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Log-probabilities of a prompt's own tokens (OpenAI's {@code echo} with {@code logprobs}): the
 * logits at position t score token t + 1. Through {@link CpuDecodeKernel} when it prefills this
 * model (the rule of {@link BatchDecoder#add}), else one tensor forward. Safe beside a running
 * {@link BatchDecoder}: it uses a kernel and a cache of its own.
 */
public final class PromptLogprobs {

    private PromptLogprobs() {}

    /** Entries for {@code tokens[from..]}, each given the tokens before it, with the {@code top} likeliest; {@code from >= 1}. */
    public static List<TokenLogprobs> of(CausalLm model, int[] tokens, int from, int top) {
        if (from < 1) {
            throw new IllegalArgumentException("the first token has no logits before it");
        }
        List<TokenLogprobs> out = new ArrayList<>();
        if (from >= tokens.length) {
            return out;
        }
        int[] input = Arrays.copyOf(tokens, tokens.length - 1); // the last token predicts nothing scored
        int vocab = model.config().vocabSize();
        try (KvCache cache = new KvCache(model.manager(), model.config(), 1, input.length, model.dataType())) {
            if (CpuDecodeKernel.handles(model, cache)) {
                try (CpuDecodeKernel kernel = new CpuDecodeKernel(model)) {
                    if (kernel.prefills()) {
                        kernel.prefill(cache, 0, input, (i, logits, offset) -> {
                            if (i + 1 >= from) {
                                out.add(TokenLogprobs.of(Arrays.copyOfRange(logits, offset, offset + vocab), tokens[i + 1], top));
                            }
                        });
                        return out;
                    }
                }
            }
        }
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            Step step = Step.uncached(m, model, 1, input.length);
            float[] flat = model.forward(model.tokens(m, List.of(input), input.length, 0), step)
                    .toType(DataType.FLOAT32, false).toFloatArray(); // (T * vocab)
            for (int t = from - 1; t < input.length; t++) {
                out.add(TokenLogprobs.of(Arrays.copyOfRange(flat, t * vocab, (t + 1) * vocab), tokens[t + 1], top));
            }
        }
        return out;
    }
}
