package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * x W^T against a float64 sum, by {@link SimdMatmul} and by {@link PackedMatmul}, on shapes that
 * leave every remainder: features past the last whole vector, rows past the last group of four
 * (three, two or one), threads whose parts are of different sizes or empty, from five
 * rows on blocks of output features that are not a multiple of four, and blocks of packed tiles
 * (96 features) that run past the last output feature.
 */
class SimdMatmulTest {

    @ParameterizedTest(name = "out {0}, in {1}, {2} row(s), {3} thread(s)")
    @MethodSource("shapes")
    void equalsTheSumOfProducts(int out, int in, int n, int threads) {
        ByteBuffer weight = randomWeight(out, in);
        float[] x = randomInput(n, in, out);
        float[] y = new float[n * out];
        java.util.Arrays.fill(y, Float.NaN); // every output must be written
        try (ThreadTeam team = new ThreadTeam(threads)) {
            SimdMatmul simd = new SimdMatmul(team);
            for (int round = 0; round < 3; round++) { // the workers are woken again for each product
                simd.multiply(weight, out, in, x, n, y);
            }
        }
        assertSums(weight, out, in, x, n, y);
    }

    /** The same on packed tiles: blocks past out (and only those) go through a scratch row, any in works. */
    @ParameterizedTest(name = "out {0}, in {1}, {2} row(s), {3} thread(s)")
    @MethodSource("shapes")
    void packedEqualsTheSumOfProducts(int out, int in, int n, int threads) {
        VectorWidth.assumeSixteenFloats("SimdMatmulTest.packedEqualsTheSumOfProducts(out " + out + ", in " + in + ", "
                + n + " rows, " + threads + " threads)");
        ByteBuffer weight = randomWeight(out, in);
        float[] x = randomInput(n, in, out);
        float[] y = new float[n * out + 7];
        java.util.Arrays.fill(y, Float.NaN); // every output must be written, and nothing past them
        PackedWeight packed = PackedWeight.of(weight.asFloatBuffer(), out, in);
        try (ThreadTeam team = new ThreadTeam(threads)) {
            PackedMatmul matmul = new PackedMatmul(team);
            for (int round = 0; round < 3; round++) {
                matmul.multiply(packed, x, n, y);
            }
        }
        assertSums(weight, out, in, x, n, y);
        for (int i = n * out; i < y.length; i++) {
            assertTrue(Float.isNaN(y[i]), "written past the outputs at " + i);
        }
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(37, 53, 1, 1), Arguments.of(37, 53, 3, 3), Arguments.of(37, 53, 8, 2), Arguments.of(37, 53, 11, 2),
                Arguments.of(64, 64, 16, 2), Arguments.of(5, 70, 17, 4), Arguments.of(130, 16, 9, 2), Arguments.of(1, 7, 2, 3),
                Arguments.of(23, 40, 6, 2),
                // several 128 KB blocks a part: 32 features of 1000, 16 of 2000; rows in fours, then a three or a two
                Arguments.of(150, 1000, 8, 2), Arguments.of(150, 1000, 7, 1), Arguments.of(101, 1003, 16, 3),
                Arguments.of(70, 2000, 5, 2), Arguments.of(70, 2000, 6, 2), Arguments.of(66, 2000, 12, 1),
                // packed: several whole blocks of 96 features a part, rows in fours, then a two and a one
                Arguments.of(288, 40, 7, 2), Arguments.of(500, 24, 11, 2), Arguments.of(200, 33, 3, 3), Arguments.of(191, 20, 2, 2));
    }

    private static ByteBuffer randomWeight(int out, int in) {
        SplittableRandom random = new SplittableRandom(out * 31L + in * 7L);
        ByteBuffer weight = ByteBuffer.allocateDirect(out * in * Float.BYTES).order(ByteOrder.nativeOrder());
        for (int i = 0; i < out * in; i++) {
            weight.putFloat(i * Float.BYTES, (float) random.nextDouble(-1, 1));
        }
        return weight;
    }

    private static float[] randomInput(int n, int in, int out) {
        SplittableRandom random = new SplittableRandom(out * 13L + in * 3L + n);
        float[] x = new float[n * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextDouble(-1, 1);
        }
        return x;
    }

    /** |y - float64 sum| within the float32 bound for a dot product, about eps * sum |w x|. */
    private static void assertSums(ByteBuffer weight, int out, int in, float[] x, int n, float[] y) {
        double worst = 0;
        for (int r = 0; r < n; r++) {
            for (int o = 0; o < out; o++) {
                double sum = 0;
                double magnitude = 0;
                for (int j = 0; j < in; j++) {
                    double product = (double) weight.getFloat((o * in + j) * Float.BYTES) * x[r * in + j];
                    sum += product;
                    magnitude += Math.abs(product);
                }
                worst = Math.max(worst, Math.abs(sum - y[r * out + o]) / (1e-6 * magnitude));
            }
        }
        assertTrue(worst < 1, "max |product - float64 sum| / (1e-6 sum |w x|) = " + worst); // NaN fails too
    }
}
