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
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21's first criterion: DPO's loss and its LoRA gradients on a tiny random float64 model,
 * against central finite differences and against the loss computed here from two models'
 * plain forwards (the adapted policy, and a second, adapter-free copy as the reference).
 */
class DpoGradientTest {

    @TempDir
    Path dir;

    private static final double BETA = 0.7;
    private static final double ALPHA = 0.3;
    private static final int VOCAB = 40;

    /** LoRA on every projection and on the (untied) head, so the head's adapter is checked too. */
    private static final TrainingConfig.LoraConfig LORA = new TrainingConfig.LoraConfig(2, 4, 0,
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"));

    /** Three pairs of random replies (different lengths, so rows are padded) to random prompts. */
    private static List<PreferencePair> pairs() {
        SplittableRandom r = new SplittableRandom(17);
        List<PreferencePair> out = new ArrayList<>();
        for (int p = 0; p < 3; p++) {
            int[] prompt = tokens(r, 3 + r.nextInt(4));
            out.add(new PreferencePair(reply(prompt, tokens(r, 2 + r.nextInt(4))), reply(prompt, tokens(r, 2 + r.nextInt(4)))));
        }
        return out;
    }

    private static int[] tokens(SplittableRandom r, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 3 + r.nextInt(VOCAB - 3);
        }
        return t;
    }

    private static EncodedExample reply(int[] prompt, int[] answer) {
        int[] ids = new int[prompt.length + answer.length];
        boolean[] target = new boolean[ids.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(answer, 0, ids, prompt.length, answer.length);
        for (int i = prompt.length; i < ids.length; i++) {
            target[i] = true;
        }
        target[ids.length - 1] = false; // a masked token inside the reply (as a formatting token would be)
        return new EncodedExample(ids, target);
    }

    private CausalLm load() {
        return CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT64);
    }

    /** A model with LoRA adapters whose B is random, so the policy differs from the reference. */
    private static TrainableSet adapt(CausalLm model) {
        TrainableSet set = TrainableSet.lora(model, LORA, 3);
        int k = 0;
        for (LoraAdapter a : set.adapters().values()) {
            GradientCheck.randomise(a.b(), 100 + k++, 0.4);
        }
        return set;
    }

    /** The engine's DPO loss, mean over the pairs, with the graph when recording. */
    private static NDArray engineLoss(NDManager m, TrainingForward f, List<PreferencePair> pairs,
            List<DpoLoss.Reference> reference) {
        NDArray[] policy = DpoLoss.policy(f, m, pairs, 0);
        return new DpoLoss(BETA, ALPHA).loss(m, policy[0], policy[1], reference, DpoLoss.chosenTokens(pairs))
                .lossSum().div(pairs.size());
    }

    private static double engineLossValue(CausalLm model, TrainingForward f, List<PreferencePair> pairs,
            List<DpoLoss.Reference> reference) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            return engineLoss(m, f, pairs, reference).getDouble();
        }
    }

    @Test
    void lossAndLoraGradientsEqualCentralFiniteDifferences() {
        try (CausalLm model = load()) {
            TrainableSet set = adapt(model);
            TrainingForward f = new TrainingForward(model);
            List<PreferencePair> pairs = pairs();
            List<DpoLoss.Reference> reference = DpoLoss.reference(model, f, pairs, 2, 0);
            try (NDManager m = model.manager().newSubManager(); Autograd ignored = Autograd.record()) {
                Autograd.backward(engineLoss(m, f, pairs, reference));
            }
            GradientCheck.Result check = GradientCheck.of(set, 2, 5, () -> engineLossValue(model, f, pairs, reference));
            int checked = check.checked();
            double worst = check.worst();
            assertEquals(set.parameters().size() * 2, checked);
            assertEquals(2 * (7 * 2 + 1), set.parameters().size(), "A and B of 7 modules x 2 layers and lm_head");
            System.out.printf("DPO gradient check: %d entries, worst relative error %.2e%n", checked, worst);
        }
    }

    /**
     * With a frozen head the replies' log-probs run lm_head in row blocks without a graph (as SFT's
     * loss does); the loss and every LoRA gradient equal those of the full logits graph.
     */
    @Test
    void blockwiseHeadGivesTheLossAndGradientsOfTheFullLogitsGraph() {
        try (CausalLm model = load()) {
            TrainableSet set = TrainableSet.lora(model, new TrainingConfig.LoraConfig(2, 4, 0,
                    List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")), 3);
            int k = 0;
            for (LoraAdapter a : set.adapters().values()) {
                GradientCheck.randomise(a.b(), 200 + k++, 0.4);
            }
            TrainingForward f = new TrainingForward(model);
            List<PreferencePair> pairs = pairs();
            List<DpoLoss.Reference> reference = DpoLoss.reference(model, f, pairs, 2, 0);
            double[] full = lossAndGradients(model, f, set, pairs, reference, 0);
            double[] blocks = lossAndGradients(model, f, set, pairs, reference, 3L * VOCAB); // 3 rows a block
            assertEquals(full.length, blocks.length);
            double worst = 0;
            for (int i = 0; i < full.length; i++) {
                worst = Math.max(worst, Math.abs(full[i] - blocks[i]) / Math.max(1e-12, Math.abs(full[i])));
            }
            assertTrue(full[0] > 0, "the loss is positive");
            assertTrue(worst < 1e-9, "loss or gradient differs by a relative " + worst);
        }
    }

    /** The DPO loss with the head run as {@code logitsPerBlock} says, then every trainable gradient, flattened. */
    private static double[] lossAndGradients(CausalLm model, TrainingForward f, TrainableSet set, List<PreferencePair> pairs,
            List<DpoLoss.Reference> reference, long logitsPerBlock) {
        set.parameters().forEach(p -> Autograd.zeroGradient(p.value()));
        List<Double> out = new ArrayList<>();
        try (NDManager m = model.manager().newSubManager(); Autograd ignored = Autograd.record()) {
            NDArray all = f.sequenceLogProbs(m, DpoLoss.batch(pairs, 0), logitsPerBlock);
            NDArray loss = new DpoLoss(BETA, ALPHA).loss(m, all.get("0:" + pairs.size()), all.get(pairs.size() + ":"),
                    reference, DpoLoss.chosenTokens(pairs)).lossSum();
            out.add(loss.getDouble());
            Autograd.backward(loss);
        }
        for (TrainableParameter p : set.parameters()) {
            try (NDArray g = p.value().getGradient()) {
                for (double v : g.toDoubleArray()) {
                    out.add(v);
                }
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Test
    void lossEqualsTheDefinitionOverTwoModelsPlainForwards() {
        Path checkpoint = TinyModels.write(dir, false);
        try (CausalLm policyModel = CausalLm.load(checkpoint, Device.cpu(), DataType.FLOAT64);
                CausalLm baseModel = CausalLm.load(checkpoint, Device.cpu(), DataType.FLOAT64)) {
            adapt(policyModel);
            List<PreferencePair> pairs = pairs();
            TrainingForward f = new TrainingForward(policyModel);

            // The reference with the adapters switched off is the base model, bit for bit.
            List<DpoLoss.Reference> disabled = DpoLoss.reference(policyModel, f, pairs, 2, 0);
            List<DpoLoss.Reference> base = DpoLoss.reference(baseModel, new TrainingForward(baseModel), pairs, 2, 0);
            assertEquals(base, disabled, "reference log-probs with adapters off vs the base model's");

            double expected = 0;
            double engineRefWorst = 0;
            for (int i = 0; i < pairs.size(); i++) {
                PreferencePair pair = pairs.get(i);
                double piW = plainLogProb(policyModel, pair.chosen());
                double piL = plainLogProb(policyModel, pair.rejected());
                double refW = plainLogProb(baseModel, pair.chosen());
                double refL = plainLogProb(baseModel, pair.rejected());
                engineRefWorst = Math.max(engineRefWorst, Math.max(Math.abs(refW - base.get(i).chosen()),
                        Math.abs(refL - base.get(i).rejected())));
                assertTrue(Math.abs(piW - refW) > 1e-3, "the adapters change the policy");
                double z = BETA * ((piW - refW) - (piL - refL));
                expected += -Math.log(1 / (1 + Math.exp(-z))) + ALPHA * (-piW / pair.chosen().targetCount());
            }
            expected /= pairs.size();
            assertTrue(engineRefWorst < 1e-10, "engine reference vs plain forward: " + engineRefWorst);

            double actual = engineLossValue(policyModel, f, pairs, disabled);
            System.out.printf("DPO loss: engine %.15f, definition %.15f%n", actual, expected);
            assertEquals(expected, actual, 1e-10 * Math.abs(expected));

            // The adapters are on again after the reference pass: the policy is not the reference.
            double atReference = new DpoLoss(BETA, 0).loss(baseModel.manager(), baseModel.manager().create(new double[] {0}),
                    baseModel.manager().create(new double[] {0}), List.of(new DpoLoss.Reference(0, 0)), new int[] {1})
                    .lossSum().getDouble();
            assertEquals(Math.log(2), atReference, 1e-15, "z = 0: -log sigmoid(0) = log 2");
        }
    }

    /** sum over the sequence's targets of log softmax(logits)[token], from CausalLm.forward, in Java. */
    private static double plainLogProb(CausalLm model, EncodedExample e) {
        int[] ids = e.ids();
        double[] logits;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            logits = model.forward(model.tokens(m, List.of(ids), ids.length, 0), Step.uncached(m, model, 1, ids.length))
                    .toDoubleArray();
        }
        int v = model.config().vocabSize();
        double sum = 0;
        for (int t = 1; t < ids.length; t++) {
            if (!e.target()[t]) {
                continue;
            }
            int row = (t - 1) * v;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[row + j]);
            }
            double z = 0;
            for (int j = 0; j < v; j++) {
                z += Math.exp(logits[row + j] - max);
            }
            sum += logits[row + ids[t]] - max - Math.log(z);
        }
        return sum;
    }
}
