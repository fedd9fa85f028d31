package dev.forgeline.engine.train;

import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a Hugging Face folder (config.json, model.safetensors) with seeded random weights for
 * any config: matrices ~ N(0, std^2) (GPT-2's 0.02 by default), norm gains 1. For tests and the
 * training benchmark, where the shape matters and the values only need to be well scaled.
 */
public final class RandomCheckpoint {

    private RandomCheckpoint() {}

    public static Path write(Path dir, ModelConfig config, long seed, double std) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config.toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
        int index = 0;
        for (Map.Entry<String, long[]> e : CausalLm.expectedShapes(config).entrySet()) {
            long[] shape = e.getValue();
            boolean gain = e.getKey().endsWith("norm.weight");
            boolean bias = e.getKey().endsWith(".bias");
            long tensorSeed = seed * 1_000_003L + index++;
            tensors.add(new SafetensorsWriter.Tensor(e.getKey(), DataType.FLOAT32, shape,
                    () -> fill(shape, gain ? 1.0 : 0.0, bias || gain ? 0.0 : std, tensorSeed)));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
        return dir;
    }

    private static ByteBuffer fill(long[] shape, double mean, double std, long seed) {
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(n * 4)).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < n; i++) {
            b.putFloat((float) (mean + std * gaussian(r)));
        }
        return b.flip();
    }

    /** Box-Muller: SplittableRandom has no nextGaussian on Java 17. */
    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
