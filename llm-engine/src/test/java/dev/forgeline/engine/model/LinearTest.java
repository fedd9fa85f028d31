package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Inputs of 4 to 15 rows take the blockwise matmul; every row count must give x W^T + b. */
class LinearTest {

    @ParameterizedTest(name = "{0} rows")
    @ValueSource(ints = {1, 3, 4, 8, 15, 16, 40})
    void forwardEqualsTheDenseProductRowByRow(int rows) {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(7);
            NDArray weight = m.randomNormal(new Shape(3 * 64, 80)); // q|k|v-like: three 64-row slices
            NDArray bias = m.randomNormal(new Shape(3 * 64));
            Linear linear = new Linear(List.of("q_proj", "k_proj", "v_proj"), new long[] {64, 64, 64}, weight, bias);
            NDArray x = m.randomNormal(new Shape(1, rows, 80));

            float[] y = linear.forward(x).toFloatArray();
            double maxDiff = 0;
            for (int r = 0; r < rows; r++) {
                float[] alone = linear.forward(x.get(0).get(r).reshape(1, 80)).toFloatArray();
                for (int o = 0; o < alone.length; o++) {
                    maxDiff = Math.max(maxDiff, Math.abs(y[r * alone.length + o] - alone[o]));
                }
            }
            assertTrue(y.length == rows * 3 * 64, "output has " + y.length + " values");
            assertTrue(maxDiff < 1e-5, "max |batched - alone| = " + maxDiff);
        }
    }
}
