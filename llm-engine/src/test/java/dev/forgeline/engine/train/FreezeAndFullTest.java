package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** freeze and full fine-tuning on a tiny random model: what must change, and what must not by a single bit. */
class FreezeAndFullTest {

    @TempDir
    Path dir;

    private static TrainingData data() {
        return new TrainingData(TinyModels.sequences(16, 6, 12, 40, 1), TinyModels.sequences(4, 6, 12, 40, 2),
                null, null, 0);
    }

    private static Map<String, byte[]> snapshot(CausalLm model) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (NDManager views = model.manager().newSubManager()) {
            for (Map.Entry<String, NDArray> e : model.stateDict(views).entrySet()) {
                byte[] b = new byte[e.getValue().toByteBuffer().remaining()];
                e.getValue().toByteBuffer().get(b);
                out.put(e.getKey(), b);
            }
        }
        return out;
    }

    private static TrainingConfig.Builder base() {
        return TrainingConfig.builder().learningRate(1e-2).maxSteps(4).microBatchSize(4).warmupRatio(0)
                .schedule(TrainingConfig.Schedule.CONSTANT).weightDecay(0.1).evalInterval(0).saveInterval(0);
    }

    @Test
    void freezeLeavesFrozenTensorsBitIdentical() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, false), Device.cpu(), DataType.FLOAT32)) {
            Map<String, byte[]> before = snapshot(model);
            TrainingResult r = new Trainer(model, base().method(TrainingConfig.Method.FREEZE).trainableLayers(1).build())
                    .train(data(), null, null, null);
            assertEquals(4, r.steps());
            Map<String, byte[]> after = snapshot(model);
            int changed = 0;
            for (String name : before.keySet()) {
                boolean trained = name.startsWith("model.layers.1.") || name.equals("model.norm.weight")
                        || name.equals("lm_head.weight");
                if (trained) {
                    changed += java.util.Arrays.equals(before.get(name), after.get(name)) ? 0 : 1;
                } else {
                    assertArrayEquals(before.get(name), after.get(name), name + " is frozen and must keep its bits");
                }
            }
            assertEquals(11, changed, "the 9 tensors of the last layer, the final norm and lm_head train");
        }
    }

    @Test
    void fullTrainsEveryTensorAndLowersTheLoss() {
        try (CausalLm model = CausalLm.load(TinyModels.write(dir, true), Device.cpu(), DataType.FLOAT32)) {
            Map<String, byte[]> before = snapshot(model);
            Trainer trainer = new Trainer(model, base().method(TrainingConfig.Method.FULL).maxSteps(10).build());
            TrainingResult r = trainer.train(data(), null, null, null);
            Map<String, byte[]> after = snapshot(model);
            for (String name : before.keySet()) {
                assertFalse(java.util.Arrays.equals(before.get(name), after.get(name)), name + " should have trained");
            }
            assertTrue(r.losses().get(9) < r.losses().get(0), "loss " + r.losses());
        }
    }

    @Test
    void invalidHyperparametersAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainingConfig.builder()
                .lora(new TrainingConfig.LoraConfig(0, 16, 0.0, null)).learningRate(0).gradientAccumulation(0).build());
        assertTrue(e.getMessage().contains("lora.r must be > 0"), e.getMessage());
        assertTrue(e.getMessage().contains("learning_rate must be > 0"), e.getMessage());
        assertTrue(e.getMessage().contains("gradient_accumulation_steps must be >= 1"), e.getMessage());
    }

    @Test
    void accumulationEqualsOneLargerBatch() {
        List<EncodedExample> examples = TinyModels.sequences(8, 5, 11, 40, 9);
        TrainingData d = new TrainingData(examples, List.of(), null, null, 0);
        double[] losses = new double[2];
        float[][] weights = new float[2][];
        int[][] shapes = {{8, 1}, {2, 4}}; // micro-batch size, accumulation
        for (int i = 0; i < 2; i++) {
            try (CausalLm model = CausalLm.load(TinyModels.write(dir.resolve("m" + i), false), Device.cpu(), DataType.FLOAT32)) {
                Trainer t = new Trainer(model, base().microBatchSize(shapes[i][0]).gradientAccumulation(shapes[i][1])
                        .maxSteps(1).lora(new TrainingConfig.LoraConfig(4, 8, 0.0, null)).build());
                losses[i] = t.train(d, null, null, null).losses().get(0);
                weights[i] = t.trainable().parameters().get(1).value().toFloatArray(); // a B after one update
            }
        }
        assertEquals(losses[0], losses[1], 1e-5);
        assertTrue(LoraGradientTest.maxDiff(weights[0], weights[1]) < 1e-6);
    }
}
