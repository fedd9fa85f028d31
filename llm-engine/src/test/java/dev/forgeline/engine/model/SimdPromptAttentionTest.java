package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link SimdPromptAttention} against softmax(q K^T) V summed in float64, on shapes that leave
 * every remainder: query counts that are not a multiple of four (the last query repeats), head
 * dimensions past the last 64 and 16, lengths past the last 64 and 16 positions, and queries of
 * one tile with different lengths (causal); a head's queries at once, and in calls of five, each
 * copying the positions past the last call's.
 */
class SimdPromptAttentionTest {

    @ParameterizedTest(name = "headDim {0}, {1} queries, first length {2}, {3} per step")
    @MethodSource("shapes")
    void equalsTheFloat64Attention(int headDim, int count, int firstLength, int lengthStep) {
        int longest = firstLength + (count - 1) / lengthStep;
        int allocated = longest + 37;
        SplittableRandom random = new SplittableRandom(headDim * 131L + count * 7L + firstLength);
        FloatBuffer keys = randomBuffer(random, 5 + headDim * allocated); // (headDim, allocated) from 5
        FloatBuffer values = randomBuffer(random, 3 + allocated * headDim); // (allocated, headDim) from 3
        float[] q = new float[count * headDim + 11];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextDouble(-1, 1);
        }
        int[] qOffset = new int[count];
        int[] length = new int[count];
        int[] outOffset = new int[count];
        for (int i = 0; i < count; i++) {
            qOffset[i] = 11 + (count - 1 - i) * headDim; // any order in q
            length[i] = firstLength + i / lengthStep;
            outOffset[i] = 2 + i * headDim;
        }
        float[] out = new float[2 + count * headDim + 5];
        java.util.Arrays.fill(out, Float.NaN); // every output must be written, and nothing else
        SimdPromptAttention attention = new SimdPromptAttention();
        for (int round = 0; round < 2; round++) { // the scratch of a longer head must not leak into a shorter one
            attention.head(keys, 5, allocated, values, 3, headDim, longest + round * 3);
            // The queries in tiles of up to `perCall`, each call copying further positions (the first round: all at once).
            int perCall = round == 0 ? count : 5;
            for (int from = 0; from < count; from += perCall) {
                int calls = Math.min(perCall, count - from);
                attention.attend(q, java.util.Arrays.copyOfRange(qOffset, from, from + calls),
                        java.util.Arrays.copyOfRange(length, from, from + calls), calls, out,
                        java.util.Arrays.copyOfRange(outOffset, from, from + calls));
            }
        }
        double worst = 0;
        for (int i = 0; i < count; i++) {
            double[] scores = new double[length[i]];
            double max = Double.NEGATIVE_INFINITY;
            for (int s = 0; s < length[i]; s++) {
                for (int d = 0; d < headDim; d++) {
                    scores[s] += (double) q[qOffset[i] + d] * keys.get(5 + d * allocated + s);
                }
                max = Math.max(max, scores[s]);
            }
            double sum = 0;
            for (int s = 0; s < length[i]; s++) {
                scores[s] = Math.exp(scores[s] - max);
                sum += scores[s];
            }
            for (int d = 0; d < headDim; d++) {
                double expected = 0;
                for (int s = 0; s < length[i]; s++) {
                    expected += scores[s] / sum * values.get(3 + s * headDim + d);
                }
                worst = Math.max(worst, Math.abs(expected - out[outOffset[i] + d]));
            }
        }
        assertTrue(worst < 1e-5, "max |attention - float64| = " + worst); // NaN fails too
        assertTrue(Float.isNaN(out[0]) && Float.isNaN(out[1]) && Float.isNaN(out[out.length - 1]), "wrote outside the outputs");
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(64, 24, 193, 3), // the 135M shape: 8 positions by 3 query heads, the fourth chunk
                Arguments.of(64, 24, 1, 3), // the first chunk: lengths from 1
                Arguments.of(8, 7, 1, 1), // stories260k's head_dim, three queries past a tile
                Arguments.of(16, 10, 70, 2),
                Arguments.of(32, 5, 63, 5),
                Arguments.of(72, 9, 130, 1), // a 64-dimension pass, then one at a time
                Arguments.of(80, 6, 17, 1), // a 64-dimension pass, then 16
                Arguments.of(24, 1, 100, 1)); // one query
    }

    private static FloatBuffer randomBuffer(SplittableRandom random, int floats) {
        FloatBuffer buffer = FloatBuffer.allocate(floats);
        for (int i = 0; i < floats; i++) {
            buffer.put(i, (float) random.nextDouble(-2, 2));
        }
        return buffer;
    }
}
