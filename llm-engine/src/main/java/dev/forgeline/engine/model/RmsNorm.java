package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Root-mean-square layer norm (Zhang and Sennrich 2019): {@code w * x / sqrt(mean(x^2) + eps)}.
 * Like transformers, the statistic is taken in float32 when the model runs in 16 bits; float32
 * and float64 models compute it in their own dtype (a float64 model stays float64 throughout).
 */
public final class RmsNorm {

    private final NDArray weight; // (hidden)
    private final NDArray eps; // scalar float32: a per-call scalar would cost an extra native call
    private final DataType dtype; // the model's dtype, known up front: asking an array costs a native call
    private final boolean widen; // 16-bit model: take the statistic in float32

    public RmsNorm(NDArray weight, double eps) {
        this.weight = weight;
        this.dtype = weight.getDataType();
        this.widen = widensToFloat32(dtype);
        this.eps = widen || dtype == DataType.FLOAT32
                ? weight.getManager().create((float) eps)
                : weight.getManager().create(eps).toType(dtype, false);
    }

    /** 16-bit dtypes compute norms and softmax in float32; float32 and float64 stay as they are. */
    static boolean widensToFloat32(DataType dtype) {
        return dtype == DataType.FLOAT16 || dtype == DataType.BFLOAT16;
    }

    /** x (..., hidden) in the model's dtype. */
    public NDArray forward(NDArray x) {
        NDArray h = widen ? x.toType(DataType.FLOAT32, false) : x;
        NDArray meanSquare = h.square().mean(new int[] {-1}, true); // (..., 1)
        h = h.div(meanSquare.add(eps).sqrt());
        if (widen) {
            h = h.toType(dtype, false);
        }
        return h.mul(weight);
    }

    public NDArray weight() {
        return weight;
    }
}
