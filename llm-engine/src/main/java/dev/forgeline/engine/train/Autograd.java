package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Records the autograd graph on the current thread until closed (the opposite of
 * {@link dev.forgeline.engine.model.NoGradient}). DJL's own GradientCollector is avoided on
 * purpose: it allows one collector per JVM, so two jobs (or a test and a job) in one process
 * would fail; PyTorch's grad mode is per thread, which is what a trainer needs.
 */
final class Autograd implements AutoCloseable {

    private final boolean previous;

    private Autograd() {
        previous = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
    }

    static Autograd record() {
        return new Autograd();
    }

    /** Back-propagates a scalar; gradients add up in each leaf's {@code .grad} (accumulation). */
    static void backward(NDArray scalar) {
        try (NDArray seed = scalar.onesLike()) {
            JniUtils.backward((PtNDArray) scalar, (PtNDArray) seed, false, false);
        }
    }

    /** Clears a parameter's accumulated gradient. */
    static void zeroGradient(NDArray parameter) {
        JniUtils.zeroGrad((PtNDArray) parameter);
    }

    @Override
    public void close() {
        JniUtils.setGradMode(previous);
    }
}
