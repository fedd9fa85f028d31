package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.model.Step;
import dev.forgeline.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT adapters back in: an adapter on stories260k (every projection and the tied head, B set to
 * random values) written by {@link ModelExport#writeAdapter}, read onto a fresh base by
 * {@link PeftAdapter} and merged, gives the adapted model's logits (float64: to 1e-12 unmerged,
 * 1e-10 merged; float32 merge: 1e-4); adapters of another type, a module the base lacks or a wrong
 * shape are refused with their reason.
 */
class PeftAdapterTest {

    private static final int[] IDS = {1, 403, 407, 261, 378, 308, 430, 270, 320, 259, 363};
    private static final List<String> TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj", "lm_head");

    private static double[] logits(CausalLm model) {
        try (NDManager m = model.manager().newSubManager()) {
            NDArray out = model.forward(model.tokens(m, List.of(IDS), IDS.length, 0), Step.uncached(m, model, 1, IDS.length));
            return out.toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    private static double maxDiff(double[] a, double[] b) {
        assertEquals(a.length, b.length);
        double d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }

    /** B is zero after TrainableSet.lora; random values make every adapter change the output. */
    private static void randomizeB(TrainableSet set, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (LoraAdapter adapter : set.adapters().values()) {
            NDArray b = adapter.b();
            double[] v = new double[(int) b.size()];
            for (int i = 0; i < v.length; i++) v[i] = (r.nextDouble() - 0.5) * 0.2;
            b.set(java.nio.DoubleBuffer.wrap(v)); // the model, and so its adapters, are float64
        }
    }

    /** Writes an adapter of stories260k with random B; returns the adapted model's logits (float64). */
    private static double[] writeAdapter(Path base, Path out) {
        TrainingConfig.LoraConfig lora = new TrainingConfig.LoraConfig(4, 8.0, 0.0, TARGETS);
        try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT64)) {
            double[] plain = logits(model);
            TrainableSet set = TrainableSet.lora(model, lora, 7);
            set.freeze();
            randomizeB(set, 11);
            double[] adapted = logits(model);
            assertTrue(maxDiff(plain, adapted) > 0.1, "the adapter must change the logits, moved " + maxDiff(plain, adapted));
            ModelExport.writeAdapter(set, lora, base.toString(), out);
            return adapted;
        }
    }

    @Test
    void anAdapterReadBackAndMergedGivesTheAdaptedModelsLogits(@TempDir Path dir) {
        Path base = SharedData.model("stories260k");
        Path adapterDir = dir.resolve("adapter");
        double[] adapted = writeAdapter(base, adapterDir);

        PeftAdapter adapter = PeftAdapter.read(adapterDir);
        assertEquals(base.toString(), adapter.baseModel());
        assertEquals(4, adapter.rank());
        try (CausalLm fresh = CausalLm.load(base, Device.cpu(), DataType.FLOAT64)) {
            assertEquals(5 * 7 + 1, adapter.attachTo(fresh).size(), "every projection of 5 layers and lm_head");
            double unmerged = maxDiff(adapted, logits(fresh));
            assertTrue(unmerged < 1e-12, "read-back adapters differ by " + unmerged);
            ModelExport.writeMerged(fresh, base, dir.resolve("merged64"));
        }
        try (CausalLm merged = CausalLm.load(dir.resolve("merged64"), Device.cpu(), DataType.FLOAT64)) {
            assertTrue(!merged.hasAdapters() && !merged.config().tieWordEmbeddings(), "merged, head untied");
            double d = maxDiff(adapted, logits(merged));
            assertTrue(d < 1e-10, "merged float64 model differs by " + d);
        }
        // The path the trainer takes: float32 base, merged and written in one call.
        adapter.mergeInto(base, dir.resolve("merged32"));
        try (CausalLm merged = CausalLm.load(dir.resolve("merged32"), Device.cpu(), DataType.FLOAT32)) {
            double d = maxDiff(adapted, logits(merged));
            assertTrue(d < 1e-4, "merged float32 model differs by " + d);
        }
    }

    @Test
    void adaptersOfAnotherTypeModuleOrShapeAreRefusedWithTheReason(@TempDir Path dir) throws IOException {
        Path base = SharedData.model("stories260k");
        String q = "base_model.model.model.layers.0.self_attn.q_proj.";
        List<String> problems = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray a = m.zeros(new Shape(4, 64));
            NDArray b = m.zeros(new Shape(64, 4));
            NDArray wrongIn = m.zeros(new Shape(4, 172));
            String plain = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8}";
            Map<String, String> refusals = new java.util.LinkedHashMap<>();
            refusals.put(adapter(dir.resolve("ia3"), "{\"peft_type\": \"IA3\", \"r\": 4, \"lora_alpha\": 8}",
                    Map.of(q + "lora_A.weight", a, q + "lora_B.weight", b)), "peft_type is 'IA3'; only LORA");
            refusals.put(adapter(dir.resolve("dora"), "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_dora\": true}",
                    Map.of(q + "lora_A.weight", a, q + "lora_B.weight", b)), "use_dora is true");
            refusals.put(adapter(dir.resolve("ranks"),
                    "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"rank_pattern\": {\"q_proj\": 8}}",
                    Map.of(q + "lora_A.weight", a, q + "lora_B.weight", b)), "rank_pattern is not empty");
            String absent = "base_model.model.model.layers.9.self_attn.q_proj.";
            refusals.put(adapter(dir.resolve("module"), plain,
                    Map.of(absent + "lora_A.weight", a, absent + "lora_B.weight", b)),
                    "module 'model.layers.9.self_attn.q_proj' is not in the base model");
            refusals.put(adapter(dir.resolve("shape"), plain, Map.of(q + "lora_A.weight", wrongIn, q + "lora_B.weight", b)),
                    q + "lora_A.weight has shape [4, 172], expected [4, 64]");
            refusals.put(adapter(dir.resolve("rank"), "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8}",
                    Map.of(q + "lora_A.weight", a, q + "lora_B.weight", b)), "has shape [4, 64], expected [8, 64]");
            refusals.put(adapter(dir.resolve("half"), plain, Map.of(q + "lora_A.weight", a)), "needs both lora_A and lora_B");
            try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
                for (Map.Entry<String, String> e : refusals.entrySet()) {
                    ModelFormatException ex = assertThrows(ModelFormatException.class,
                            () -> PeftAdapter.read(Path.of(e.getKey())).attachTo(model), e.getKey());
                    if (!ex.getMessage().contains(e.getValue())) problems.add(e.getValue() + " not in: " + ex.getMessage());
                }
                assertTrue(!model.hasAdapters(), "a refused adapter attaches nothing");
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    private static String adapter(Path dir, String config, Map<String, NDArray> tensors) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), config);
        SafetensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS), tensors, Map.of("format", "pt"));
        return dir.toString();
    }
}
