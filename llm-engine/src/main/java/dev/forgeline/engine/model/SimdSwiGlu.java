package dev.forgeline.engine.model;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link CpuDecodeKernel}'s SwiGLU on the Vector API: out = silu(gate) * up, with exp on whole
 * vectors ({@link VectorExp}) where the scalar loop calls {@code Math.exp} per feature.
 */
final class SimdSwiGlu {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();

    private SimdSwiGlu() {}

    /** out[o + i] = g / (1 + exp(-g)) * up[i] for g = gateUp[gu + i], up = gateUp[gu + width + i], i in [0, width). */
    static void apply(float[] gateUp, int gu, int width, float[] out, int o) {
        int i = 0;
        for (int whole = SPECIES.loopBound(width); i < whole; i += LANES) {
            FloatVector g = FloatVector.fromArray(SPECIES, gateUp, gu + i);
            FloatVector up = FloatVector.fromArray(SPECIES, gateUp, gu + width + i);
            FloatVector sigmoid = VectorExp.exp(g.neg()).add(1f);
            g.div(sigmoid).mul(up).intoArray(out, o + i);
        }
        CpuDecodeKernel.swiGlu(gateUp, gu, width, out, o, i); // features past the last whole vector
    }
}
