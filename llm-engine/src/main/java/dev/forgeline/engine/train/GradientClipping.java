package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import dev.forgeline.engine.model.NoGradient;
import java.util.List;

/** Clipping by global norm, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradientClipping {

    private GradientClipping() {}

    /**
     * Scales every gradient by {@code maxNorm / (norm + 1e-6)} when the global L2 norm over all
     * of them exceeds {@code maxNorm}; returns the norm before clipping.
     */
    public static double clip(List<TrainableParameter> parameters, double maxNorm) {
        try (NoGradient ignored = NoGradient.enter()) {
            double sumSquares = 0;
            for (TrainableParameter p : parameters) {
                try (NDArray g = p.value().getGradient(); NDArray s = g.square().sum()) {
                    sumSquares += s.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
                }
            }
            double norm = Math.sqrt(sumSquares);
            double scale = maxNorm / (norm + 1e-6);
            if (scale < 1) {
                for (TrainableParameter p : parameters) {
                    try (NDArray g = p.value().getGradient()) {
                        g.muli(scale);
                    }
                }
            }
            return norm;
        }
    }
}
