package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA's gradients, its no-op start and its merge, on a tiny random model. */
class LoraGradientTest {

    @TempDir
    Path dir;

    private static final TrainingConfig.LoraConfig LORA = new TrainingConfig.LoraConfig(2, 4, 0, null);

    /** Packed and padded: two rows, the first holding two examples. */
    private static Batch batch() {
        List<EncodedExample> s = TinyModels.sequences(3, 5, 9, 40, 11);
        return BatchPlan.batch(List.of(List.of(s.get(0), s.get(1)), List.of(s.get(2))), 0);
    }

    private static double loss(TrainingForward f, CausalLm model, Batch b) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            return f.lossSum(m, b).getDouble() / b.targets();
        }
    }

    /** The tiny model widened to float64: a finite-difference check needs its precision end to end. */
    private CausalLm loadFloat64() {
        return CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT64);
    }

    @Test
    void gradientsEqualCentralFiniteDifferencesInFloat64() {
        try (CausalLm model = loadFloat64()) {
            TrainableSet set = TrainableSet.lora(model, LORA, 3);
            int k = 0;
            for (LoraAdapter a : set.adapters().values()) {
                GradientCheck.randomise(a.b(), 100 + k++, 0.3); // B = 0 would make every dL/dA zero
            }
            TrainingForward f = new TrainingForward(model);
            Batch b = batch();
            try (NDManager m = model.manager().newSubManager(); Autograd ignored = Autograd.record()) {
                Autograd.backward(f.lossSum(m, b).div(b.targets()));
            }
            GradientCheck.Result check = GradientCheck.of(set, 3, 5, () -> loss(f, model, b));
            int checked = check.checked();
            double worst = check.worst();
            assertEquals(set.parameters().size() * 3, checked);
            System.out.printf("LoRA gradient check: %d entries, worst relative error %.2e%n", checked, worst);
        }
    }

    /** The frozen-head loss in row blocks gives the loss and gradients of the plain autograd graph. */
    @Test
    void blockwiseHeadLossEqualsTheFullLogitsGraph() {
        try (CausalLm model = loadFloat64()) {
            TrainableSet set = TrainableSet.lora(model, LORA, 3);
            int k = 0;
            for (LoraAdapter a : set.adapters().values()) {
                GradientCheck.randomise(a.b(), 300 + k++, 0.3);
            }
            TrainingForward f = new TrainingForward(model);
            Batch b = batch();
            double[] reference = lossAndGradients(f, b, set, 0);
            double[] blockwise = lossAndGradients(f, b, set, 3L * model.config().vocabSize()); // 3 rows per block
            assertEquals(reference.length, blockwise.length);
            double worst = 0;
            for (int i = 0; i < reference.length; i++) {
                worst = Math.max(worst, Math.abs(reference[i] - blockwise[i]) / Math.max(1e-12, Math.abs(reference[i])));
            }
            assertTrue(reference[0] > 0, "the loss is positive");
            assertTrue(worst < 1e-9, "loss or gradient differs by a relative " + worst);
        }
    }

    /** The loss, then every trainable parameter's gradient, flattened. */
    private static double[] lossAndGradients(TrainingForward f, Batch b, TrainableSet set, long logitsPerBlock) {
        set.parameters().forEach(p -> Autograd.zeroGradient(p.value()));
        double loss;
        try (NDManager m = set.parameters().get(0).value().getManager().newSubManager(); Autograd ignored = Autograd.record()) {
            NDArray l = f.lossSum(m, b, logitsPerBlock);
            loss = l.getDouble();
            Autograd.backward(l);
        }
        java.util.List<Double> out = new java.util.ArrayList<>(List.of(loss));
        for (TrainableParameter p : set.parameters()) {
            try (NDArray g = p.value().getGradient()) {
                for (double v : g.toDoubleArray()) {
                    out.add(v);
                }
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static float[] engineLogits(CausalLm model, int[] ids) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            NDArray input = model.tokens(m, List.of(ids), ids.length, 0);
            return model.forward(input, Step.uncached(m, model, 1, ids.length)).toFloatArray();
        }
    }

    @Test
    void freshAdapterLeavesOutputUnchangedAndMergeMatchesAdapter() {
        int[] ids = {1, 5, 9, 13, 17, 21, 25, 29, 33};
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT32)) {
            float[] base = engineLogits(model, ids);
            TrainableSet set = TrainableSet.lora(model, new TrainingConfig.LoraConfig(4, 8, 0, null), 1);
            set.freeze();
            float[] fresh = engineLogits(model, ids);
            assertEquals(0, maxDiff(base, fresh), "B = 0: the adapter adds exactly nothing");

            int k = 0;
            for (LoraAdapter a : set.adapters().values()) {
                GradientCheck.randomise(a.b(), 200 + k++, 0.2);
            }
            float[] adapted = engineLogits(model, ids);
            assertTrue(maxDiff(base, adapted) > 1e-3, "a trained adapter changes the output");
            model.mergeLora();
            float[] merged = engineLogits(model, ids);
            double diff = maxDiff(adapted, merged);
            System.out.printf("merged vs adapter logits: max |diff| %.2e%n", diff);
            assertTrue(diff < 1e-5, "merged logits differ by " + diff);
        }
    }

    @Test
    void trainingForwardMatchesEngineAndPackingIsolatesExamples() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, true), Device.cpu(), DataType.FLOAT32)) {
            TrainingForward f = new TrainingForward(model);
            List<EncodedExample> s = TinyModels.sequences(2, 6, 6, 40, 3);
            float[] alone0 = engineLogits(model, s.get(0).ids());
            float[] alone1 = engineLogits(model, s.get(1).ids());
            float[] packed;
            try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
                packed = f.logits(m, BatchPlan.batch(List.of(List.of(s.get(0), s.get(1))), 0)).toFloatArray();
            }
            int v = 40;
            float[] first = java.util.Arrays.copyOfRange(packed, 0, 6 * v);
            float[] second = java.util.Arrays.copyOfRange(packed, 6 * v, 12 * v);
            assertTrue(maxDiff(alone0, first) < 1e-5, "first example of a packed row");
            assertTrue(maxDiff(alone1, second) < 1e-5, "second example sees nothing of the first");
        }
    }

    /**
     * A float64 model computes in float64 on the inference path too: its norms and softmax are
     * not rounded through float32, so CausalLm.forward and TrainingForward (which never
     * narrows) agree far below float32 resolution.
     */
    @Test
    void float64ModelComputesInFloat64OnTheInferencePath() {
        try (CausalLm model = loadFloat64()) {
            assertEquals(DataType.FLOAT64, model.embedTokens().getDataType());
            EncodedExample e = TinyModels.sequences(1, 9, 9, 40, 21).get(0);
            double[] engine;
            double[] training;
            try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
                NDArray input = model.tokens(m, List.of(e.ids()), e.ids().length, 0);
                NDArray logits = model.forward(input, Step.uncached(m, model, 1, e.ids().length));
                assertEquals(DataType.FLOAT64, logits.getDataType());
                engine = logits.toDoubleArray();
                training = new TrainingForward(model).logits(m, BatchPlan.batch(List.of(List.of(e)), 0)).toDoubleArray();
            }
            assertEquals(engine.length, training.length);
            double d = 0;
            for (int i = 0; i < engine.length; i++) {
                d = Math.max(d, Math.abs(engine[i] - training[i]));
            }
            assertTrue(d < 1e-12, "float64 inference and training forwards differ by " + d);
        }
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
