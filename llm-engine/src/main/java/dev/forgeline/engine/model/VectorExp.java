package dev.forgeline.engine.model;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp on a whole vector from multiply-adds alone: exp(x) = 2^n exp(r), n = round(x / ln 2), r = x
 * - n ln 2 in [-ln2/2, ln2/2], exp(r) by its Taylor series to r^7 (relative error under 2e-7),
 * 2^n written straight into the float's exponent bits.
 *
 * <p>Why not {@code lanewise(VectorOperators.EXP)}: on JDK 17 that call is compiled well in most
 * JVMs and about three times slower in some (one in six in a measurement; docs/performance.md),
 * which made a server's prompts slower or not by chance. These operations compile to the same
 * instructions every time.
 */
final class VectorExp {

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HIGH = 0.693359375f; // ln 2 = LN2_HIGH + LN2_LOW; n * LN2_HIGH is exact
    private static final float LN2_LOW = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f; // 1.5 * 2^23: t + ROUNDER rounds t to an integer, kept in the low bits
    private static final float LOWEST = -87.3f; // below this exp(x) is not a normal float: 0
    private static final float HIGHEST = 88f; // inputs above this are taken as 88 (exp(88) = 1.65e38)

    private VectorExp() {}

    static FloatVector exp(FloatVector x) {
        FloatVector t = x.max(LOWEST).min(HIGHEST);
        FloatVector k = t.fma(LOG2E, ROUNDER); // low bits: n = round(t / ln 2)
        FloatVector n = k.sub(ROUNDER);
        FloatVector r = n.fma(x.broadcast(-LN2_HIGH), t);
        r = n.fma(x.broadcast(-LN2_LOW), r);
        FloatVector p = r.fma(1f / 5040, 1f / 720); // Horner, from r^7 / 7! down
        p = p.fma(r, x.broadcast(1f / 120));
        p = p.fma(r, x.broadcast(1f / 24));
        p = p.fma(r, x.broadcast(1f / 6));
        p = p.fma(r, x.broadcast(0.5f));
        p = p.fma(r, x.broadcast(1f));
        p = p.fma(r, x.broadcast(1f));
        // 2^n: the exponent field n + 127; ROUNDER's own bits shift out past bit 31.
        FloatVector scale = ((IntVector) k.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
        return p.mul(scale).blend(0f, x.lt(LOWEST));
    }
}
