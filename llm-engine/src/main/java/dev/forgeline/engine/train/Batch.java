package dev.forgeline.engine.train;

/**
 * One micro-batch, flattened row-major over (B, T): rows are right-padded to the longest.
 * A row holds one example, or with packing several, each in its own {@code segment} with
 * positions restarting at 0; attention never crosses segments (block-diagonal causal mask),
 * so a packed row trains exactly like its examples would alone.
 *
 * @param ids       (B*T) token ids, padding included
 * @param positions (B*T) rotary positions, 0 at each segment's start
 * @param segments  (B*T) segment number within the row, -1 on padding
 * @param labels    (B*T) the token position t must predict (the next token of its segment when
 *                  that token is a target), -1 where there is no loss
 * @param targets   how many labels are not -1
 */
public record Batch(int rows, int seqLen, int[] ids, int[] positions, int[] segments, int[] labels, int targets) {

    /** Tokens of real data (padding excluded). */
    public int tokens() {
        int n = 0;
        for (int s : segments) {
            n += s >= 0 ? 1 : 0;
        }
        return n;
    }
}
