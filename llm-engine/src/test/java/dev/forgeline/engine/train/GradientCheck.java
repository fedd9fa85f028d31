package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.forgeline.engine.model.NoGradient;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Autograd's gradients of a loss against central finite differences, for the float64 gradient
 * tests: at a few random entries of every trainable parameter, each within 1e-4 relative error.
 */
final class GradientCheck {
    static final double EPS = 1e-6;

    /** @param worst the largest relative error seen */
    record Result(int checked, double worst) {}

    private GradientCheck() {}

    /** Checks {@code trials} entries a parameter; gradients must already be on the parameters. */
    static Result of(TrainableSet set, int trials, long seed, DoubleSupplier loss) {
        double worst = 0;
        int checked = 0;
        SplittableRandom pick = new SplittableRandom(seed);
        for (TrainableParameter p : set.parameters()) {
            double[] grad;
            try (NDArray g = p.value().getGradient()) {
                grad = g.toDoubleArray();
            }
            for (int trial = 0; trial < trials; trial++) {
                int i = pick.nextInt(grad.length);
                double[] v = p.value().toDoubleArray();
                double original = v[i];
                v[i] = original + EPS;
                set(p.value(), v);
                double up = loss.getAsDouble();
                v[i] = original - EPS;
                set(p.value(), v);
                double down = loss.getAsDouble();
                v[i] = original;
                set(p.value(), v);
                double numeric = (up - down) / (2 * EPS);
                double rel = Math.abs(numeric - grad[i]) / Math.max(Math.abs(numeric) + Math.abs(grad[i]), 1e-7);
                worst = Math.max(worst, rel);
                checked++;
                assertTrue(rel < 1e-4, p.name() + "[" + i + "]: autograd " + grad[i] + " vs finite difference " + numeric);
            }
        }
        return new Result(checked, worst);
    }

    /** Uniform values in [-scale, scale) from {@code seed}. */
    static void randomise(NDArray a, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[(int) a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (r.nextDouble() * 2 - 1) * scale;
        }
        set(a, v);
    }

    static void set(NDArray a, double[] v) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = a.getManager().newSubManager()) {
            m.create(v).reshape(a.getShape()).toType(a.getDataType(), false).copyTo(a);
        }
    }
}
