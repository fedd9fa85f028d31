package dev.forgeline.eval;

import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * Fits a prompt into the model's window: shots are dropped first, from the last one back, and
 * only a prompt too long with none left is cut from the left (as lm-evaluation-harness cuts
 * every prompt that is too long). Both are counted in the report.
 *
 * @param ids             the prompt's token ids as fitted
 * @param shots           shots kept
 * @param truncatedTokens tokens cut from the left
 */
record PromptFit(int[] ids, int shots, int truncatedTokens) {

    /** @param encode the prompt's ids with the first k shots; {@code room} tokens are available */
    static PromptFit fit(IntFunction<int[]> encode, int shots, int room) {
        for (int k = shots; ; k--) {
            int[] ids = encode.apply(k);
            if (ids.length <= room) {
                return new PromptFit(ids, k, 0);
            }
            if (k == 0) {
                return new PromptFit(Arrays.copyOfRange(ids, ids.length - room, ids.length), 0, ids.length - room);
            }
        }
    }
}
