package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Root-mean-square layer norm (Zhang and Sennrich 2019): {@code w * x / sqrt(mean(x^2) + eps)}.
 * Like transformers, the statistic is taken in float32 even when the model runs in 16 bits.
 */
public final class RmsNorm {

    private final NDArray weight; // (hidden)
    private final NDArray eps; // scalar float32: a per-call scalar would cost an extra native call
    private final DataType dtype; // the model's dtype, known up front: asking an array costs a native call

    public RmsNorm(NDArray weight, double eps) {
        this.weight = weight;
        this.eps = weight.getManager().create((float) eps);
        this.dtype = weight.getDataType();
    }

    /** x (..., hidden) in the model's dtype. */
    public NDArray forward(NDArray x) {
        NDArray h = dtype == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        NDArray meanSquare = h.square().mean(new int[] {-1}, true); // (..., 1)
        h = h.div(meanSquare.add(eps).sqrt());
        if (dtype != DataType.FLOAT32) {
            h = h.toType(dtype, false);
        }
        return h.mul(weight);
    }

    public NDArray weight() {
        return weight;
    }
}
