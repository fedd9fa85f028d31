package dev.forgeline.engine.weights;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.TinyModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelAverageTest {

    @Test
    void everyTensorIsTheWeightedMeanBitForBitInFloat32(@TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied();
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Path c = dir.resolve("c");
        RandomModel.write(a, config, 1);
        RandomModel.write(b, config, 2);
        RandomModel.write(c, config, 3);
        Path out = dir.resolve("soup");

        double[] weights = ModelAverage.write(List.of(new ModelAverage.Part(a, 1), new ModelAverage.Part(b, 2),
                new ModelAverage.Part(c, 1)), out);
        assertArrayEquals(new double[] {0.25, 0.5, 0.25}, weights, "normalised to sum to one");

        float wa = 0.25f;
        float wb = 0.5f;
        float wc = 0.25f;
        try (NDManager manager = NDManager.newBaseManager();
                SafetensorsReader ra = SafetensorsReader.open(a); SafetensorsReader rb = SafetensorsReader.open(b);
                SafetensorsReader rc = SafetensorsReader.open(c); SafetensorsReader soup = SafetensorsReader.open(out)) {
            assertEquals(ra.names(), soup.names());
            for (String name : ra.names()) {
                float[] x = floats(ra, name, manager);
                float[] y = floats(rb, name, manager);
                float[] z = floats(rc, name, manager);
                float[] got = floats(soup, name, manager);
                assertEquals("F32", soup.entry(name).dtype());
                for (int i = 0; i < x.length; i++) {
                    float expected = wa * x[i] + wb * y[i] + wc * z[i];
                    if (Float.floatToRawIntBits(expected) != Float.floatToRawIntBits(got[i])) {
                        throw new AssertionError(name + "[" + i + "]: " + got[i] + " is not " + expected);
                    }
                }
            }
        }
        try (CausalLm model = CausalLm.load(out, Device.cpu(), DataType.FLOAT32)) {
            assertEquals(config.numHiddenLayers(), model.config().numHiddenLayers(), "the average loads as a model");
        }
    }

    @Test
    void refusesModelsOfAnotherShapeOrTokenizer(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        Path wider = dir.resolve("wider");
        RandomModel.write(a, TinyModels.llamaGqaUntied(), 1);
        RandomModel.write(wider, ModelConfig.builder("llama").hiddenSize(64).intermediateSize(128).numAttentionHeads(4)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(256)
                .tieWordEmbeddings(false).build(), 2);
        ModelFormatException shape = assertThrows(ModelFormatException.class, () -> ModelAverage.write(
                List.of(new ModelAverage.Part(a, 1), new ModelAverage.Part(wider, 1)), dir.resolve("x")));
        assertTrue(shape.getMessage().contains("mlp.down_proj.weight is [64, 96] in one and [64, 128] in the other"), shape.getMessage());

        Path sameShape = dir.resolve("same-shape");
        RandomModel.write(sameShape, TinyModels.llamaGqaUntied(), 3);
        Files.writeString(sameShape.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
        ModelFormatException tokenizer = assertThrows(ModelFormatException.class, () -> ModelAverage.write(
                List.of(new ModelAverage.Part(a, 1), new ModelAverage.Part(sameShape, 1)), dir.resolve("y")));
        assertTrue(tokenizer.getMessage().contains("tokenizer.json"), tokenizer.getMessage());

        assertThrows(IllegalArgumentException.class, () -> ModelAverage.write(List.of(new ModelAverage.Part(a, 1)), dir.resolve("z")));
        assertThrows(IllegalArgumentException.class, () -> ModelAverage.write(
                List.of(new ModelAverage.Part(a, 1), new ModelAverage.Part(sameShape, 0)), dir.resolve("z")));
    }

    private static float[] floats(SafetensorsReader reader, String name, NDManager manager) {
        try (NDArray array = reader.read(name, manager, DataType.FLOAT32)) {
            return array.toFloatArray();
        }
    }
}
