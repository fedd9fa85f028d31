package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {

    @Test
    void greedyTakesTheLowestIdOnTies() {
        Sampler s = new Sampler(SamplingParams.greedy(), 4, new int[0]);
        assertEquals(1, s.sample(new float[] {0f, 3f, 3f, -1f}));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens() {
        SamplingParams p = SamplingParams.builder().repetitionPenalty(2.0).build();
        Sampler s = new Sampler(p, 4, new int[] {0, 1});
        float[] logits = {4f, -1f, 2.5f, 0f};
        int token = s.sample(logits);
        assertArrayEquals(new float[] {2f, -2f, 2.5f, 0f}, logits);
        assertEquals(2, token);
    }

    @Test
    void presenceAndFrequencyPenaltiesCountOnlyGeneratedTokens() {
        SamplingParams p = SamplingParams.builder().presencePenalty(0.5).frequencyPenalty(0.25).build();
        Sampler s = new Sampler(p, 3, new int[] {2, 2, 2});
        s.accept(0);
        s.accept(0);
        s.accept(1);
        float[] logits = {1f, 1f, 1f};
        s.sample(logits);
        assertArrayEquals(new float[] {1f - 0.5f - 0.5f, 1f - 0.25f - 0.5f, 1f}, logits, 1e-6f);
    }

    @Test
    void sameSeedSameTokensAndTopKOneIsGreedy() {
        float[] base = new float[50];
        for (int i = 0; i < base.length; i++) {
            base[i] = (float) Math.sin(i * 0.7) * 2;
        }
        SamplingParams seeded = SamplingParams.builder().temperature(1.0).seed(42L).build();
        int[] a = draw(seeded, base, 30);
        int[] b = draw(seeded, base, 30);
        assertArrayEquals(a, b);
        int[] c = draw(seeded.toBuilder().seed(43L).build(), base, 30);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c));
        int[] k1 = draw(SamplingParams.builder().temperature(1.5).topK(1).seed(7L).build(), base, 10);
        int greedy = Sampler.argmax(base, base.length);
        for (int t : k1) {
            assertEquals(greedy, t);
        }
    }

    @Test
    void topPKeepsTheSmallestSetReachingTheMass() {
        // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps the first two only
        float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        Set<Integer> seen = new HashSet<>();
        for (int t : draw(SamplingParams.builder().temperature(1.0).topP(0.75).seed(3L).build(), logits, 400)) {
            seen.add(t);
        }
        assertEquals(Set.of(0, 1), seen);
        Set<Integer> all = new HashSet<>();
        for (int t : draw(SamplingParams.builder().temperature(1.0).seed(3L).build(), logits, 400)) {
            all.add(t);
        }
        assertTrue(all.containsAll(List.of(0, 1, 2, 3)));
    }

    private static int[] draw(SamplingParams p, float[] logits, int n) {
        Sampler s = new Sampler(p, logits.length, new int[0]);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.sample(logits.clone());
        }
        return out;
    }
}
