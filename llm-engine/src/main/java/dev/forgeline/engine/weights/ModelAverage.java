package dev.forgeline.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.config.ModelConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Model averaging ("model soup"): the weighted mean of models of one base and shape, written as a
 * new Hugging Face folder. Each tensor is {@code sum_i w_i * x_i} in float32, accumulated in the
 * order the models are given, with the weights normalised to sum to one. Models whose tensors
 * differ in name or shape, or whose tokenizers differ, are refused: their mean means nothing.
 */
public final class ModelAverage {
    /** The files beside the weights that make a folder loadable; taken from the first model. */
    private static final List<String> SIDE_FILES = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt");
    private static final long SHARD_BYTES = 2L << 30;

    private ModelAverage() {}

    /** One model and its weight (any positive number; the weights are normalised). */
    public record Part(Path model, double weight) {}

    /** Writes the average of {@code parts} to {@code output} and returns the normalised weights. */
    public static double[] write(List<Part> parts, Path output) {
        if (parts.size() < 2) throw new IllegalArgumentException("averaging needs two models or more, got " + parts.size());
        double total = 0;
        for (Part p : parts) {
            if (!(p.weight() > 0) || Double.isInfinite(p.weight())) {
                throw new IllegalArgumentException("weight of " + p.model() + " must be a positive number, got " + p.weight());
            }
            total += p.weight();
        }
        double[] weights = new double[parts.size()];
        for (int i = 0; i < weights.length; i++) weights[i] = parts.get(i).weight() / total;

        List<SafetensorsReader> readers = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            for (Part p : parts) readers.add(SafetensorsReader.open(p.model()));
            requireSameShapes(parts, readers);
            requireSameTokenizer(parts);
            ModelConfig config = ModelConfig.read(parts.get(0).model());
            List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
            for (String name : readers.get(0).names()) {
                long[] shape = readers.get(0).entry(name).shape();
                tensors.add(new SafetensorsWriter.Tensor(name, DataType.FLOAT32, shape,
                        () -> mean(name, readers, weights, manager)));
            }
            Files.createDirectories(output);
            for (String file : SIDE_FILES) {
                Path from = parts.get(0).model().resolve(file);
                if (Files.isRegularFile(from)) Files.copy(from, output.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
            Map<String, String> metadata = Map.of("format", "pt");
            long bytes = tensors.stream().mapToLong(t -> Arrays.stream(t.shape()).reduce(4, (a, b) -> a * b)).sum();
            if (bytes > SHARD_BYTES) SafetensorsWriter.writeSharded(output, tensors, SHARD_BYTES, metadata);
            else SafetensorsWriter.write(output.resolve("model.safetensors"), tensors, metadata);
            if (!"float32".equals(config.torchDtype())) {
                // the averaged weights are float32 whatever the parents stored; say so to loaders
                String json = Files.readString(output.resolve("config.json"))
                        .replaceFirst("\"torch_dtype\"\\s*:\\s*\"[a-z0-9]+\"", "\"torch_dtype\": \"float32\"");
                Files.writeString(output.resolve("config.json"), json);
            }
            return weights;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            readers.forEach(SafetensorsReader::close);
        }
    }

    /** {@code sum_i w_i * x_i} for one tensor, in float32, little-endian. */
    private static ByteBuffer mean(String name, List<SafetensorsReader> readers, double[] weights, NDManager manager) {
        float[] sum = null;
        for (int m = 0; m < readers.size(); m++) {
            float[] x;
            try (NDArray array = readers.get(m).read(name, manager, DataType.FLOAT32)) {
                x = array.toFloatArray();
            }
            float w = (float) weights[m];
            if (sum == null) {
                sum = new float[x.length];
            }
            for (int i = 0; i < x.length; i++) sum[i] += w * x[i];
        }
        ByteBuffer out = ByteBuffer.allocate(sum.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        out.asFloatBuffer().put(sum);
        return out;
    }

    private static void requireSameShapes(List<Part> parts, List<SafetensorsReader> readers) {
        Set<String> names = readers.get(0).names();
        for (int m = 1; m < readers.size(); m++) {
            Set<String> other = readers.get(m).names();
            if (!other.equals(names)) {
                throw new ModelFormatException("cannot average " + parts.get(0).model() + " and " + parts.get(m).model()
                        + ": they hold different tensors (" + difference(names, other) + ")");
            }
            for (String name : names) {
                long[] a = readers.get(0).entry(name).shape();
                long[] b = readers.get(m).entry(name).shape();
                if (!Arrays.equals(a, b)) {
                    throw new ModelFormatException("cannot average " + parts.get(0).model() + " and " + parts.get(m).model()
                            + ": " + name + " is " + Arrays.toString(a) + " in one and " + Arrays.toString(b) + " in the other");
                }
            }
        }
    }

    private static void requireSameTokenizer(List<Part> parts) throws IOException {
        for (String file : List.of("tokenizer.json", "tokenizer.model")) {
            Path first = parts.get(0).model().resolve(file);
            for (Part p : parts.subList(1, parts.size())) {
                Path other = p.model().resolve(file);
                boolean same = Files.isRegularFile(first) == Files.isRegularFile(other)
                        && (!Files.isRegularFile(first) || Files.mismatch(first, other) == -1);
                if (!same) {
                    throw new ModelFormatException("cannot average " + parts.get(0).model() + " and " + p.model()
                            + ": their " + file + " differ, so the same ids are not the same tokens");
                }
            }
        }
    }

    private static String difference(Set<String> a, Set<String> b) {
        List<String> onlyA = a.stream().filter(n -> !b.contains(n)).limit(3).toList();
        List<String> onlyB = b.stream().filter(n -> !a.contains(n)).limit(3).toList();
        return "only in the first: " + onlyA + ", only in the other: " + onlyB;
    }
}
