package dev.forgeline.engine.weights;

import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.GenerationConfig;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a complete Hugging Face model folder with random weights for any config: config.json,
 * model.safetensors (or shards), generation_config.json and a working byte-level tokenizer.
 * For tests and benchmarks of shapes no small real checkpoint has.
 *
 * <p>Scales keep activations and logits of order one at any width, so numerical comparisons
 * mean something: linear weights have std 1/sqrt(in), the embedding 1/sqrt(hidden) (a tied
 * lm_head then gives unit-variance logits), norm weights scatter around one, biases are small.
 * Each tensor's values depend only on the seed and its name.
 */
public final class RandomModel {

    private RandomModel() {}

    /** The shape of SmolLM-135M (tied embeddings), the model every benchmark measures. */
    public static ModelConfig smolLm135mShape() {
        return ModelConfig.builder("llama").hiddenSize(576).intermediateSize(1536).numAttentionHeads(9)
                .numKeyValueHeads(3).numHiddenLayers(30).vocabSize(49152).maxPositionEmbeddings(2048)
                .ropeTheta(10000).rmsNormEps(1e-5).tieWordEmbeddings(true).bosTokenId(1).eosTokenIds(List.of(2))
                .build();
    }

    public static void write(Path dir, ModelConfig config, long seed) {
        write(dir, config, seed, 0);
    }

    /** @param maxShardBytes shard the weights above this size (0: one file) */
    public static void write(Path dir, ModelConfig config, long seed, long maxShardBytes) {
        DataType dtype = switch (config.torchDtype()) {
            case "bfloat16" -> DataType.BFLOAT16;
            case "float16" -> DataType.FLOAT16;
            default -> DataType.FLOAT32;
        };
        List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
        for (Map.Entry<String, long[]> e : CausalLm.expectedShapes(config).entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            tensors.add(new SafetensorsWriter.Tensor(name, dtype, shape,
                    () -> values(name, shape, config, seed, dtype)));
        }
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config.toJson(), StandardCharsets.UTF_8);
            GenerationConfig gen = new GenerationConfig(config.bosTokenId(), config.eosTokenIds(), null, null, null,
                    null, null, null, null);
            Files.writeString(dir.resolve("generation_config.json"), gen.toJson(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> metadata = Map.of("format", "pt");
        if (maxShardBytes > 0) {
            SafetensorsWriter.writeSharded(dir, tensors, maxShardBytes, metadata);
        } else {
            SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, metadata);
        }
        if (config.vocabSize() >= ByteLevelVocabulary.MIN_SIZE) {
            ByteLevelVocabulary.write(dir, config.vocabSize(), config.maxPositionEmbeddings());
        }
    }

    private static ByteBuffer values(String name, long[] shape, ModelConfig c, long seed, DataType dtype) {
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        double std;
        double center = 0;
        if (name.endsWith("norm.weight")) {
            center = 1;
            std = 0.1;
        } else if (name.endsWith(".bias")) {
            std = 0.1;
        } else if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
            std = 1 / Math.sqrt(c.hiddenSize());
        } else {
            std = 1 / Math.sqrt(shape[1]);
        }
        double bound = std * Math.sqrt(3); // uniform(-b, b) has std b / sqrt(3)
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(count * dtype.getNumOfBytes())).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < count; i++) {
            float v = (float) (center + (random.nextDouble() * 2 - 1) * bound);
            switch (dtype) {
                case BFLOAT16 -> out.putShort(toBfloat16(v));
                case FLOAT16 -> out.putShort(toFloat16(v));
                default -> out.putFloat(v);
            }
        }
        return out.flip();
    }

    /** float32 -> IEEE half bits, round to nearest (values here are small and normal). */
    static short toFloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = (bits >>> 16) & 0x8000;
        int exp = ((bits >>> 23) & 0xFF) - 127 + 15;
        int mantissa = bits & 0x7FFFFF;
        if (exp <= 0) {
            if (exp < -10) {
                return (short) sign;
            }
            mantissa |= 0x800000;
            int shift = 14 - exp;
            int half = mantissa >> shift;
            if (((mantissa >> (shift - 1)) & 1) != 0) {
                half++;
            }
            return (short) (sign | half);
        }
        if (exp >= 31) {
            return (short) (sign | 0x7C00);
        }
        int half = sign | (exp << 10) | (mantissa >> 13);
        if ((mantissa & 0x1000) != 0) {
            half++; // carries into the exponent correctly when the mantissa overflows
        }
        return (short) half;
    }

    /** float32 -> bfloat16 bits, rounding to nearest even as torch does. */
    static short toBfloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
