package dev.forgeline.engine.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model folder the engine cannot use fails at load time with a message naming the culprit. */
class LoadErrorsTest {

    @Test
    void unsupportedArchitectureIsNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 64, "vocab_size": 100}
                """);
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> CausalLm.load(dir, Device.cpu(), DataType.FLOAT32));
        assertTrue(e.getMessage().contains("gpt2") && e.getMessage().contains("GPT2LMHeadModel")
                && e.getMessage().contains("llama"), e.getMessage());
    }

    @Test
    void unsupportedRopeScalingAndActivationAreNamed() {
        String base = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                + "\"num_hidden_layers\":1,\"vocab_size\":300";
        ModelFormatException yarn = assertThrows(ModelFormatException.class,
                () -> ModelConfig.fromJson(base + ",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}"));
        assertTrue(yarn.getMessage().contains("yarn"), yarn.getMessage());
        ModelFormatException gelu = assertThrows(ModelFormatException.class,
                () -> ModelConfig.fromJson(base + ",\"hidden_act\":\"gelu\"}"));
        assertTrue(gelu.getMessage().contains("gelu"), gelu.getMessage());
    }

    /** A sliding window the engine does not implement limits the context instead of being ignored. */
    @Test
    void aSlidingWindowBecomesTheContextLimit() {
        String base = "\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                + "\"num_hidden_layers\":1,\"vocab_size\":300,\"max_position_embeddings\":32768";
        assertEquals(16, ModelConfig.fromJson("{\"model_type\":\"mistral\"," + base + ",\"sliding_window\":16}")
                .maxPositionEmbeddings());
        assertEquals(4096, ModelConfig.fromJson("{\"model_type\":\"mistral\"," + base + "}").maxPositionEmbeddings());
        assertEquals(32768, ModelConfig.fromJson("{\"model_type\":\"mistral\"," + base + ",\"sliding_window\":null}")
                .maxPositionEmbeddings());
        assertEquals(32768, ModelConfig.fromJson("{\"model_type\":\"qwen2\"," + base
                + ",\"sliding_window\":16,\"use_sliding_window\":false}").maxPositionEmbeddings());
        assertEquals(16, ModelConfig.fromJson("{\"model_type\":\"qwen2\"," + base
                + ",\"sliding_window\":16,\"use_sliding_window\":true}").maxPositionEmbeddings());
        assertEquals(32768, ModelConfig.fromJson("{\"model_type\":\"llama\"," + base + ",\"sliding_window\":16}")
                .maxPositionEmbeddings());
    }

    /** Rewrites the folder's weights with {@code edit} applied to the tensor map. */
    private static void rewrite(Path dir, java.util.function.Consumer<Map<String, ai.djl.ndarray.NDArray>> edit) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                SafetensorsReader reader = SafetensorsReader.open(dir)) {
            Map<String, ai.djl.ndarray.NDArray> tensors = new LinkedHashMap<>();
            for (String name : reader.names()) {
                tensors.put(name, reader.read(name, m, DataType.FLOAT32));
            }
            edit.accept(tensors);
            SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of());
        }
    }

    @Test
    void missingTensorsAreNamed(@TempDir Path dir) {
        RandomModel.write(dir, TinyModels.llamaGqaUntied(), 1);
        rewrite(dir, t -> {
            t.remove("model.layers.1.mlp.up_proj.weight");
            t.remove("lm_head.weight");
        });
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> CausalLm.load(dir, Device.cpu(), DataType.FLOAT32));
        assertTrue(e.getMessage().contains("model.layers.1.mlp.up_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("lm_head.weight"), e.getMessage());
    }

    @Test
    void misShapedTensorNamesTheTensorAndBothShapes(@TempDir Path dir) {
        RandomModel.write(dir, TinyModels.llamaGqaUntied(), 1);
        NDManager keep = NDManager.newBaseManager(Device.cpu());
        try (keep) {
            rewrite(dir, t -> t.put("model.layers.0.self_attn.k_proj.weight",
                    keep.zeros(new ai.djl.ndarray.types.Shape(64, 64))));
        }
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> CausalLm.load(dir, Device.cpu(), DataType.FLOAT32));
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.k_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("[64, 64]") && e.getMessage().contains("[32, 64]"), e.getMessage());
    }

    @Test
    void truncatedFileIsRejected(@TempDir Path dir) throws Exception {
        RandomModel.write(dir, TinyModels.llamaGqaUntied(), 1);
        Path file = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsReader.open(dir));
        assertTrue(e.getMessage().contains("bytes"), e.getMessage());
    }
}
