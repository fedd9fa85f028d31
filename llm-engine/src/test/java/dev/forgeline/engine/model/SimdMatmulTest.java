package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * x W^T against a float64 sum, on shapes that leave every remainder: features past the last whole
 * vector, rows past the last group of four (three, two or one), threads whose parts are of
 * different sizes or empty, and from five rows on, blocks of output features that are not a
 * multiple of four.
 */
class SimdMatmulTest {

    @ParameterizedTest(name = "out {0}, in {1}, {2} row(s), {3} thread(s)")
    @CsvSource({"37, 53, 1, 1", "37, 53, 3, 3", "37, 53, 8, 2", "37, 53, 11, 2", "64, 64, 16, 2", "5, 70, 17, 4",
            "130, 16, 9, 2", "1, 7, 2, 3", "23, 40, 6, 2",
            // several 128 KB blocks a part: 32 features of 1000, 16 of 2000; rows in fours, then a three or a two
            "150, 1000, 8, 2", "150, 1000, 7, 1", "101, 1003, 16, 3", "70, 2000, 5, 2", "70, 2000, 6, 2", "66, 2000, 12, 1"})
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
        try (ThreadTeam team = new ThreadTeam(threads)) {
            SimdMatmul simd = new SimdMatmul(team);
            for (int round = 0; round < 3; round++) { // the workers are woken again for each product
                simd.multiply(weight, out, in, x, n, y);
            }
        }
        double worst = 0; // |simd - float64 sum| over the float32 bound for a dot product: about eps * sum |w x|
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
        assertTrue(worst < 1, "max |simd - float64 sum| / (1e-6 sum |w x|) = " + worst); // NaN fails too
    }
}
