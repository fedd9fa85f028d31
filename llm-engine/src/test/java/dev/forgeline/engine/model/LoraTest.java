package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.forgeline.engine.config.ModelConfig;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraTest {

    private static float[] logits(CausalLm model, int[] ids) {
        try (NDManager m = model.manager().newSubManager()) {
            return model.forward(model.tokens(m, List.of(ids), ids.length, 0), Step.uncached(m, model, 1, ids.length))
                    .toFloatArray();
        }
    }

    private static double maxDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    /** Gives B random values so the adapter changes the output. */
    private static void randomize(NDArray b, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] v = new float[(int) b.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() - 0.5) * 0.2f;
        }
        b.set(FloatBuffer.wrap(v));
    }

    @Test
    void adaptersOnSlicesOfFusedProjectionsAddExactlyTheirDelta(@TempDir Path dir) {
        ModelConfig config = TinyModels.qwen2Bias();
        try (CausalLm model = TinyModels.write(dir, config, 8)) {
            int[] ids = TinyModels.randomIds(7, config.vocabSize(), 9);
            float[] base = logits(model, ids);
            List<String> targets = List.of("model.layers.0.self_attn.k_proj", "model.layers.1.mlp.up_proj",
                    "model.layers.1.self_attn.o_proj");
            long seed = 1;
            for (String t : targets) {
                Linear linear = model.projection(t);
                String slice = t.substring(t.lastIndexOf('.') + 1);
                LoraAdapter adapter = LoraAdapter.create(model.manager(), (int) linear.inFeatures(),
                        (int) linear.outFeatures(slice), 4, 8f, 0f, seed++, model.dataType());
                model.attachLora(t, adapter);
            }
            // B starts at zero: a fresh adapter changes nothing.
            assertTrue(maxDiff(base, logits(model, ids)) < 1e-6);
            for (String t : targets) {
                String slice = t.substring(t.lastIndexOf('.') + 1);
                randomize(model.projection(t).adapters().get(slice).b(), seed++);
            }
            float[] adapted = logits(model, ids);
            assertTrue(maxDiff(base, adapted) > 1e-3, "adapters had no effect");
            // Merging the deltas into the stacked weights gives the same function.
            model.mergeLora();
            assertTrue(model.projection(targets.get(0)).adapters().isEmpty());
            float[] merged = logits(model, ids);
            assertTrue(maxDiff(adapted, merged) < 1e-4, "merged differs by " + maxDiff(adapted, merged));
        }
    }

    /**
     * A tied lm_head with its own adapter: merging gives the head its own weight (embedding +
     * delta) and leaves the shared embedding alive and unchanged; the model unties.
     */
    @Test
    void mergingIntoATiedHeadUntiesItAndKeepsTheEmbedding(@TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied().toBuilder().tieWordEmbeddings(true).build();
        try (CausalLm model = TinyModels.write(dir, config, 8)) {
            assertTrue(model.tied());
            int[] ids = TinyModels.randomIds(7, config.vocabSize(), 4);
            float[] embedding = model.embedTokens().toFloatArray();
            Linear head = model.lmHead();
            LoraAdapter adapter = LoraAdapter.create(model.manager(), (int) head.inFeatures(),
                    (int) head.outFeatures("lm_head"), 4, 8f, 0f, 5, model.dataType());
            model.attachLora("lm_head", adapter);
            model.attachLora("model.layers.0.self_attn.q_proj", LoraAdapter.create(model.manager(),
                    config.hiddenSize(), config.numAttentionHeads() * config.headDim(), 4, 8f, 0f, 6, model.dataType()));
            randomize(adapter.b(), 7);
            randomize(model.projection("model.layers.0.self_attn.q_proj").adapters().get("q_proj").b(), 8);
            float[] adapted = logits(model, ids);

            model.mergeLora();

            assertTrue(head.adapters().isEmpty());
            assertFalse(model.tied(), "the head has its own weight now");
            assertFalse(model.config().tieWordEmbeddings());
            assertTrue(head.weight() != model.embedTokens());
            assertArrayEquals(embedding, model.embedTokens().toFloatArray(), "embed_tokens is untouched");
            float[] merged = logits(model, ids);
            assertTrue(maxDiff(adapted, merged) < 1e-5, "merged differs by " + maxDiff(adapted, merged));
            try (NDManager views = model.manager().newSubManager()) {
                java.util.Map<String, NDArray> state = model.stateDict(views);
                assertTrue(state.containsKey("lm_head.weight"));
                assertArrayEquals(embedding, state.get("model.embed_tokens.weight").toFloatArray());
            }
        }
    }

    @Test
    void gradientsReachTheAdapterAndNotTheFrozenBase(@TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied();
        try (CausalLm model = TinyModels.write(dir, config, 8)) {
            String target = "model.layers.0.self_attn.v_proj";
            Linear linear = model.projection(target);
            LoraAdapter adapter = LoraAdapter.create(model.manager(), (int) linear.inFeatures(),
                    (int) linear.outFeatures("v_proj"), 2, 4f, 0.1f, 3, model.dataType());
            adapter.setTrainable(true);
            adapter.setTraining(true);
            model.attachLora(target, adapter);
            int[] ids = TinyModels.randomIds(5, config.vocabSize(), 1);
            try (NDManager m = model.manager().newSubManager();
                    GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(model.tokens(m, List.of(ids), ids.length, 0),
                        Step.uncached(m, model, 1, ids.length));
                NDArray loss = logits.logSoftmax(2).get(":, :, 7").mean().neg();
                collector.backward(loss);
            }
            // B is zero, so dL/dA is zero at the start; dL/dB is not.
            float[] gradB = adapter.b().getGradient().toFloatArray();
            double norm = 0;
            for (float g : gradB) {
                norm += g * g;
            }
            assertTrue(norm > 0, "no gradient reached LoRA B");
            assertFalse(linear.weight().hasGradient(), "frozen base weight must not require gradients");
            assertArrayEquals(new long[] {linear.outFeatures("v_proj"), 2}, adapter.b().getShape().getShape());
        }
    }
}
