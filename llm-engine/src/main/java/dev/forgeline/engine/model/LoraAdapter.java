package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * A low-rank update of one projection (Hu et al., LoRA): {@code W x + (alpha / r) B A dropout(x)}
 * with A (r, in) and B (out, r). B starts at zero so a fresh adapter leaves the model unchanged;
 * A starts like peft's kaiming-uniform(a = sqrt 5), i.e. uniform in +-1/sqrt(in).
 */
public final class LoraAdapter {

    private final int rank;
    private final float alpha;
    private final float dropout;
    private final NDArray a; // (r, in)
    private final NDArray b; // (out, r)
    private final NDArray scale; // scalar alpha / r, kept as an array so no per-call scalar is created
    private boolean training;

    public LoraAdapter(NDArray a, NDArray b, float alpha, float dropout) {
        long r = a.getShape().get(0);
        if (b.getShape().get(1) != r) {
            throw new IllegalArgumentException("LoRA A " + a.getShape() + " and B " + b.getShape() + " disagree on rank");
        }
        this.rank = (int) r;
        this.alpha = alpha;
        this.dropout = dropout;
        this.a = a;
        this.b = b;
        this.scale = a.getManager().create(alpha / rank).toType(a.getDataType(), false);
    }

    /** A fresh adapter for a projection of {@code in -> out} features, on {@code manager}'s device. */
    public static LoraAdapter create(NDManager manager, int in, int out, int rank, float alpha, float dropout,
            long seed, DataType dtype) {
        SplittableRandom random = new SplittableRandom(seed);
        float bound = (float) (1.0 / Math.sqrt(in));
        float[] init = new float[rank * in];
        for (int i = 0; i < init.length; i++) {
            init[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        NDArray a = manager.create(FloatBuffer.wrap(init), new Shape(rank, in)).toType(dtype, false);
        NDArray b = manager.zeros(new Shape(out, rank), dtype);
        return new LoraAdapter(a, b, alpha, dropout);
    }

    /**
     * The scaled low-rank code {@code (alpha / r) A dropout(x)}: (..., in) -> (..., r). The scale
     * goes on this narrow array rather than on the (..., out) update.
     */
    NDArray low(NDArray x) {
        NDArray h = x;
        if (dropsOut()) {
            h = x.getNDArrayInternal().dropout(x, dropout, true).singletonOrThrow();
        }
        return Linear.linear(h, a).singletonOrThrow().mul(scale);
    }

    /** B A scaled: the dense (out, in) matrix this adapter adds, for merging into the base weight. */
    public NDArray denseDelta() {
        return b.matMul(a).mul(scale);
    }

    /** Marks A and B as trainable (they get gradients inside a GradientCollector) or frozen. */
    public void setTrainable(boolean trainable) {
        a.setRequiresGradient(trainable);
        b.setRequiresGradient(trainable);
    }

    /** Whether {@link #low} draws a dropout mask now. */
    boolean dropsOut() {
        return training && dropout > 0;
    }

    /** Dropout applies only while training. */
    public void setTraining(boolean training) {
        this.training = training;
    }

    public NDArray a() {
        return a;
    }

    public NDArray b() {
        return b;
    }

    public int rank() {
        return rank;
    }

    public float alpha() {
        return alpha;
    }

    public float dropout() {
        return dropout;
    }

    public float scaleValue() {
        return alpha / rank;
    }
}
