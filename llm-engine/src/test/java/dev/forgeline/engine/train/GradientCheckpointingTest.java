package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.model.Step;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradient checkpointing ({@link TrainingForward#backwardThroughLayers}) gives the loss and every
 * trainable gradient of the plain graph, in float64 on a tiny random model: LoRA, full fine-tuning
 * (the embedding's gradient too) and freeze, the SFT loss and DPO's sequence log-probs, and with
 * LoRA dropout the recomputed layers draw the masks of the first run.
 */
class GradientCheckpointingTest {

    @TempDir
    Path dir;

    private static Batch batch() {
        List<EncodedExample> s = TinyModels.sequences(3, 5, 9, 40, 11);
        return BatchPlan.batch(List.of(List.of(s.get(0), s.get(1)), List.of(s.get(2))), 0);
    }

    @Test
    void loraSftLossAndGradientsEqualThePlainGraph() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT64)) {
            TrainableSet set = TrainableSet.lora(model, new TrainingConfig.LoraConfig(2, 4, 0, null), 3);
            randomiseB(set);
            Batch b = batch();
            assertSame(run(model, set, false, (f, m) -> f.lossSum(m, b)), run(model, set, true, (f, m) -> f.lossSum(m, b)));
        }
    }

    @Test
    void fullFineTuningGradientsEqualThePlainGraphEmbeddingIncluded() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, true), Device.cpu(), DataType.FLOAT64)) {
            TrainableSet set = TrainableSet.prepare(model, TrainingConfig.builder().method(TrainingConfig.Method.FULL).build());
            Batch b = batch();
            double[] plain = run(model, set, false, (f, m) -> f.lossSum(m, b, 0)); // the head under autograd: it trains
            double[] checkpointed = run(model, set, true, (f, m) -> f.lossSum(m, b, 0));
            assertSame(plain, checkpointed);
            assertTrue(model.embedTokens().hasGradient(), "the embedding trains in a full fine-tune");
        }
    }

    @Test
    void freezeGradientsEqualThePlainGraph() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT64)) {
            TrainableSet set = TrainableSet.prepare(model,
                    TrainingConfig.builder().method(TrainingConfig.Method.FREEZE).trainableLayers(1).build());
            Batch b = batch();
            assertTrue(model.layers().size() > 1, "a frozen layer below the trained one");
            assertSame(run(model, set, false, (f, m) -> f.lossSum(m, b, 0)), run(model, set, true, (f, m) -> f.lossSum(m, b, 0)));
        }
    }

    @Test
    void dpoSequenceLogProbsGradientsEqualThePlainGraph() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT64)) {
            TrainableSet set = TrainableSet.lora(model, new TrainingConfig.LoraConfig(2, 4, 0, null), 5);
            randomiseB(set);
            Batch b = batch();
            // Any smooth function of the rows' log-probs: weights of both signs, as DPO's chosen and rejected.
            BiFunction<TrainingForward, NDManager, NDArray> loss =
                    (f, m) -> f.sequenceLogProbs(m, b).mul(m.create(new double[] {0.7, -1.3})).sum();
            assertSame(run(model, set, false, loss), run(model, set, true, loss));
        }
    }

    /**
     * With dropout the recomputed layers must draw the masks their first run drew. The reference
     * is the plain graph drawing from the same per-layer seeds, written out here.
     */
    @Test
    void withLoraDropoutTheRecomputedLayersDrawTheSameMasks() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT64)) {
            TrainableSet set = TrainableSet.lora(model, new TrainingConfig.LoraConfig(2, 4, 0.5, null), 7);
            randomiseB(set);
            set.setTraining(true);
            Batch b = batch();
            double[] weights = new double[b.rows() * b.seqLen() * model.config().hiddenSize()];
            for (int i = 0; i < weights.length; i++) weights[i] = Math.sin(i * 0.37);
            BiFunction<TrainingForward, NDManager, NDArray> loss =
                    (f, m) -> f.hidden(m, b).mul(m.create(weights, new Shape(b.rows(), b.seqLen(), model.config().hiddenSize()))).sum();
            double[] checkpointed = run(model, set, true, loss);
            double[] manual = run(model, set, false, (f, m) -> {
                // What the checkpointed forward does, on one graph: the same seed draw, then seed + l per layer.
                long seed = m.randomInteger(0, Integer.MAX_VALUE, new Shape(1), DataType.INT64).getLong();
                NDArray ids = m.create(LongBuffer.wrap(java.util.Arrays.stream(b.ids()).asLongStream().toArray()),
                        new Shape(b.rows(), b.seqLen()));
                Step step = Step.packed(m, model, b.rows(), b.seqLen(), b.positions(), b.segments());
                NDArray x = model.embed(ids);
                for (int l = 0; l < model.layers().size(); l++) {
                    JniUtils.setSeed(seed + l);
                    x = model.layers().get(l).forward(x, step);
                }
                return model.norm().forward(x).mul(m.create(weights, new Shape(b.rows(), b.seqLen(), model.config().hiddenSize()))).sum();
            });
            assertSame(manual, checkpointed);
            set.setTraining(false);
            double[] noDropout = run(model, set, false, loss);
            assertTrue(Math.abs(noDropout[0] - manual[0]) > 1e-6, "dropout at 0.5 changed the loss: the masks were drawn");
        }
    }

    /** The loss, then every trainable gradient, flattened; the seed is set as the trainer sets it. */
    private static double[] run(CausalLm model, TrainableSet set, boolean checkpointed,
            BiFunction<TrainingForward, NDManager, NDArray> loss) {
        set.parameters().forEach(p -> Autograd.zeroGradient(p.value()));
        TrainingForward f = new TrainingForward(model, checkpointed);
        List<Double> out = new ArrayList<>();
        JniUtils.setSeed(1234);
        try (NDManager m = model.manager().newSubManager(); Autograd ignored = Autograd.record()) {
            NDArray l = loss.apply(f, m);
            out.add(l.getDouble());
            Autograd.backward(l);
            f.backwardThroughLayers();
        }
        for (TrainableParameter p : set.parameters()) {
            try (NDArray g = p.value().getGradient()) {
                for (double v : g.toDoubleArray()) out.add(v);
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void assertSame(double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length);
        double worst = 0;
        double largest = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
            largest = Math.max(largest, Math.abs(expected[i]));
        }
        assertTrue(largest > 0, "some gradient is not zero");
        assertTrue(worst <= 1e-10 * largest, "loss or a gradient differs by " + worst + " (largest " + largest + ")");
    }

    private static void randomiseB(TrainableSet set) {
        int k = 0;
        for (LoraAdapter a : set.adapters().values()) {
            GradientCheck.randomise(a.b(), 100 + k++, 0.3); // B = 0 would make every dL/dA zero
        }
    }
}
