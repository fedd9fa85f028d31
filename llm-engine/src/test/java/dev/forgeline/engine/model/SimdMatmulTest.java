package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * x W^T against a float64 sum, on shapes that leave every remainder: features past the last whole
 * vector, rows past the last group of four (three, two or one), and threads whose parts are of
 * different sizes or empty.
 */
class SimdMatmulTest {

    @ParameterizedTest(name = "out {0}, in {1}, {2} row(s), {3} thread(s)")
    @CsvSource({"37, 53, 1, 1", "37, 53, 3, 3", "37, 53, 8, 2", "37, 53, 11, 2", "64, 64, 16, 2", "5, 70, 17, 4",
            "130, 16, 9, 2", "1, 7, 2, 3", "23, 40, 6, 2"})
    void equalsTheSumOfProducts(int out, int in, int n, int threads) {
        SplittableRandom random = new SplittableRandom(out * 31L + in * 7L + n);
        ByteBuffer weight = ByteBuffer.allocateDirect(out * in * Float.BYTES).order(ByteOrder.nativeOrder());
        for (int i = 0; i < out * in; i++) {
            weight.putFloat(i * Float.BYTES, (float) random.nextDouble(-1, 1));
        }
        float[] x = new float[n * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextDouble(-1, 1);
        }
        float[] y = new float[n * out];
        java.util.Arrays.fill(y, Float.NaN); // every output must be written
        try (SimdMatmul simd = new SimdMatmul(threads)) {
            for (int round = 0; round < 3; round++) { // the workers are woken again for each product
                simd.multiply(weight, out, in, x, n, y);
            }
        }
        double worst = 0;
        for (int r = 0; r < n; r++) {
            for (int o = 0; o < out; o++) {
                double sum = 0;
                for (int j = 0; j < in; j++) {
                    sum += (double) weight.getFloat((o * in + j) * Float.BYTES) * x[r * in + j];
                }
                worst = Math.max(worst, Math.abs(sum - y[r * out + o]));
            }
        }
        assertTrue(worst < 1e-5, "max |simd - float64 sum| = " + worst); // NaN fails too
    }
}
