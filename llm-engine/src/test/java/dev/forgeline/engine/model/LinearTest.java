package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.junit.jupiter.api.Test;
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

    /**
     * Adapters on some slices of a stacked projection, attached out of slice order: the output
     * must equal the merged weight's.
     */
    @Test
    void adaptersOnSomeSlicesEqualTheirMergedWeight() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(8);
            Linear linear = stackedQkv(m);
            NDArray weight = linear.weight();
            linear.attach("v_proj", randomAdapter(m, 32, 4, 8, 0));
            linear.attach("q_proj", randomAdapter(m, 64, 2, 2, 0));
            NDArray x = m.randomNormal(new Shape(2, 5, 48));

            float[] adapted = linear.forward(x).toFloatArray();
            float[] base = ai.djl.nn.core.Linear.linear(x, weight).singletonOrThrow().toFloatArray();
            linear.mergeAdapters();
            float[] merged = linear.forward(x).toFloatArray();
            double maxDiff = maxDiff(adapted, merged);
            double changed = maxDiff(adapted, base);
            assertTrue(changed > 1e-2, "the adapters change the output");
            assertTrue(maxDiff < 1e-4, "max |adapted - merged| = " + maxDiff);
        }
    }

    /**
     * While training with dropout each adapter draws its own mask, so the adapters run apart:
     * one that drops everything (p = 1) must add nothing, its neighbour exactly its update.
     */
    @Test
    void withDropoutEachAdapterKeepsItsOwnColumns() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(9);
            Linear linear = stackedQkv(m);
            NDArray weight = linear.weight();
            LoraAdapter dropsAll = randomAdapter(m, 32, 4, 8, 1f);
            LoraAdapter keeps = randomAdapter(m, 64, 2, 2, 0);
            dropsAll.setTraining(true);
            linear.attach("v_proj", dropsAll);
            linear.attach("q_proj", keeps);
            NDArray x = m.randomNormal(new Shape(2, 5, 48));

            float[] training = linear.forward(x).toFloatArray();
            float[] base = ai.djl.nn.core.Linear.linear(x, weight).singletonOrThrow().toFloatArray();
            linear.detach("v_proj");
            linear.mergeAdapters();
            float[] qOnly = linear.forward(x).toFloatArray();
            double maxDiff = maxDiff(training, qOnly);
            double changed = maxDiff(training, base);
            assertTrue(changed > 1e-2, "the kept adapter changes the output");
            assertTrue(maxDiff < 1e-4, "max |training - base with q merged| = " + maxDiff);
        }
    }

    /**
     * With two intra-op threads one row multiplies by a per-thread view of the weight (the
     * module's tests otherwise run one thread, where that path is off). It must give x W^T + b,
     * and an output width that does not split evenly must fall back to the plain product.
     */
    @ParameterizedTest(name = "{0} output features")
    @ValueSource(ints = {192, 63})
    void oneRowOnTwoThreadsEqualsTheDenseProduct(int out) {
        int threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(2);
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(10);
            NDArray weight = m.randomNormal(new Shape(out, 80));
            NDArray bias = m.randomNormal(new Shape(out));
            Linear linear = new Linear(List.of("o_proj"), new long[] {out}, weight, bias);
            NDArray x = m.randomNormal(new Shape(1, 1, 80));

            NDArray y;
            try (NoGradient ignored = NoGradient.enter()) {
                y = linear.forward(x);
            }
            float[] expected = ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow().toFloatArray();
            double maxDiff = maxDiff(y.toFloatArray(), expected);
            assertTrue(y.getShape().equals(new Shape(1, 1, out)), "shape " + y.getShape());
            assertTrue(maxDiff < 1e-5, "max |per-thread - dense| = " + maxDiff);
        } finally {
            JniUtils.setNumThreads(threads);
        }
    }

    /** q|k|v of 64, 32 and 32 features over 48 inputs, random weight, no bias. */
    private static Linear stackedQkv(NDManager m) {
        NDArray weight = m.randomNormal(new Shape(64 + 32 + 32, 48));
        return new Linear(List.of("q_proj", "k_proj", "v_proj"), new long[] {64, 32, 32}, weight, null);
    }

    /** A LoRA adapter for 48 inputs with random A and B (B non-zero, so it changes the output). */
    private static LoraAdapter randomAdapter(NDManager m, int out, int rank, float alpha, float dropout) {
        return new LoraAdapter(m.randomNormal(new Shape(rank, 48)), m.randomNormal(new Shape(out, rank)), alpha, dropout);
    }

    private static double maxDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
