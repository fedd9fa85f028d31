package dev.forgeline.engine.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.Step;
import dev.forgeline.engine.model.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    private static float[] logits(CausalLm model, int[] ids) {
        try (NDManager m = model.manager().newSubManager()) {
            return model.forward(model.tokens(m, List.of(ids), ids.length, 0), Step.uncached(m, model, 1, ids.length))
                    .toFloatArray();
        }
    }

    @Test
    void shardedFolderLoadsLikeTheSingleFile(@TempDir Path dir) {
        ModelConfig config = TinyModels.qwen2Bias();
        RandomModel.write(dir.resolve("single"), config, 9);
        RandomModel.write(dir.resolve("sharded"), config, 9, 40_000);
        assertTrue(Files.exists(dir.resolve("sharded/model.safetensors.index.json")));
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("sharded"))) {
            assertTrue(r.names().size() > 10);
        }
        int[] ids = TinyModels.randomIds(8, config.vocabSize(), 1);
        try (CausalLm a = CausalLm.load(dir.resolve("single"), Device.cpu(), DataType.FLOAT32);
                CausalLm b = CausalLm.load(dir.resolve("sharded"), Device.cpu(), DataType.FLOAT32)) {
            assertArrayEquals(logits(a, ids), logits(b, ids));
        }
    }

    @Test
    void float32AndHalfCheckpointsWidenExactlyToFloat64(@TempDir Path dir) {
        ModelConfig f32 = TinyModels.llamaGqaUntied();
        String name = "model.layers.0.mlp.down_proj.weight";
        for (String dtype : List.of("float32", "float16", "bfloat16")) {
            Path d = dir.resolve(dtype);
            RandomModel.write(d, f32.toBuilder().torchDtype(dtype).build(), 4);
            try (SafetensorsReader r = SafetensorsReader.open(d); NDManager m = NDManager.newBaseManager(Device.cpu())) {
                NDArray wide = r.read(name, m, DataType.FLOAT64);
                assertEquals(DataType.FLOAT64, wide.getDataType());
                assertArrayEquals(r.entry(name).shape(), wide.getShape().getShape());
                float[] narrow = r.read(name, m, DataType.FLOAT32).toFloatArray();
                double[] got = wide.toDoubleArray();
                for (int i = 0; i < narrow.length; i++) {
                    assertEquals((double) narrow[i], got[i], 0.0, dtype + " " + name + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void halfPrecisionCheckpointsConvertToTheRequestedType(@TempDir Path dir) {
        ModelConfig f32 = TinyModels.llamaGqaUntied();
        RandomModel.write(dir.resolve("float32"), f32, 4);
        int[] ids = TinyModels.randomIds(6, f32.vocabSize(), 2);
        String name = "model.layers.0.mlp.down_proj.weight";
        try (CausalLm reference = CausalLm.load(dir.resolve("float32"), Device.cpu(), DataType.FLOAT32);
                NDManager m = NDManager.newBaseManager(Device.cpu())) {
            float[] expected = logits(reference, ids);
            for (String dtype : List.of("bfloat16", "float16")) {
                Path d = dir.resolve(dtype);
                RandomModel.write(d, f32.toBuilder().torchDtype(dtype).build(), 4);
                try (SafetensorsReader r = SafetensorsReader.open(d);
                        SafetensorsReader full = SafetensorsReader.open(dir.resolve("float32"))) {
                    assertEquals(dtype.equals("bfloat16") ? "BF16" : "F16", r.entry(name).dtype());
                    float[] widened = r.read(name, m, DataType.FLOAT32).toFloatArray();
                    float[] original = full.read(name, m, DataType.FLOAT32).toFloatArray();
                    // 16-bit storage keeps 3 (bf16) or 4 (fp16) significant digits of the same values
                    for (int i = 0; i < original.length; i++) {
                        assertEquals(original[i], widened[i], Math.abs(original[i]) * 1e-2 + 1e-4, name + "[" + i + "]");
                    }
                }
                try (CausalLm model = CausalLm.load(d, Device.cpu(), DataType.FLOAT32)) {
                    float[] got = logits(model, ids);
                    double maxDiff = 0;
                    for (int i = 0; i < got.length; i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
                    }
                    assertTrue(maxDiff < 0.1, dtype + " weights moved logits by " + maxDiff);
                }
            }
            // float16 compute path: weights, cache and activations in half precision
            try (CausalLm half = CausalLm.load(dir.resolve("float32"), Device.cpu(), DataType.FLOAT16)) {
                assertEquals(DataType.FLOAT16, half.dataType());
                float[] got;
                try (NDManager s = half.manager().newSubManager()) {
                    got = half.forward(half.tokens(s, List.of(ids), ids.length, 0), Step.uncached(s, half, 1, ids.length))
                            .toType(DataType.FLOAT32, false).toFloatArray();
                }
                double maxDiff = 0;
                for (int i = 0; i < got.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
                }
                assertTrue(maxDiff < 0.1, "float16 compute moved logits by " + maxDiff);
            }
        }
    }

    @Test
    void float32ArraysWriteAsBfloat16(@TempDir Path dir) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray a = m.create(new float[] {1f, -2.5f, 3.140625f, 1e-3f}, new ai.djl.ndarray.types.Shape(2, 2));
            SafetensorsWriter.write(dir.resolve("x.safetensors"), List.of(SafetensorsWriter.of("a", a, DataType.BFLOAT16)),
                    Map.of());
            try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("x.safetensors"))) {
                assertEquals("BF16", r.entry("a").dtype());
                float[] back = r.read("a", m, DataType.FLOAT32).toFloatArray();
                assertArrayEquals(new float[] {1f, -2.5f, 3.140625f, 1e-3f}, back, 1e-5f);
            }
        }
    }

    @Test
    void stateDictWritesBackTheCheckpoint(@TempDir Path dir) {
        ModelConfig config = TinyModels.qwen2Bias();
        RandomModel.write(dir.resolve("a"), config, 2);
        int[] ids = TinyModels.randomIds(6, config.vocabSize(), 3);
        try (CausalLm a = CausalLm.load(dir.resolve("a"), Device.cpu(), DataType.FLOAT32);
                NDManager views = a.manager().newSubManager()) {
            Map<String, NDArray> state = a.stateDict(views);
            assertEquals(CausalLm.expectedShapes(config).keySet(), state.keySet());
            SafetensorsWriter.write(dir.resolve("b/model.safetensors"), state, Map.of("format", "pt"));
            try (SafetensorsReader original = SafetensorsReader.open(dir.resolve("a"));
                    SafetensorsReader copy = SafetensorsReader.open(dir.resolve("b"))) {
                for (String name : original.names()) {
                    assertArrayEquals(original.read(name, views, DataType.FLOAT32).toFloatArray(),
                            copy.read(name, views, DataType.FLOAT32).toFloatArray(), name);
                }
            }
        }
    }

    @Test
    void randomModelTokenizerRoundTripsText(@TempDir Path dir) throws Exception {
        ModelConfig config = TinyModels.llamaGqaUntied().toBuilder().vocabSize(2000).build();
        RandomModel.write(dir, config, 1);
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
            String text = "Hello world, naïve café — 😀 tabs\tand\nnewlines <|im_end|>";
            long[] ids = tok.encode(text, false, false).getIds();
            assertTrue(ids.length < text.length(), "merges shorten common text");
            assertEquals(text, tok.decode(ids, false));
            assertEquals(2, tok.encode("<|im_end|>", false, false).getIds()[0]);
            for (long id : ids) {
                assertTrue(id >= 0 && id < 2000);
            }
        }
        assertTrue(Files.readString(dir.resolve("tokenizer_config.json")).contains("chat_template"));
    }
}
