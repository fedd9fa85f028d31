package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.weights.SafetensorsReader;
import dev.forgeline.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A resumable training state in {@code <root>/step-NNNNNNNN/}:
 * <pre>
 *   trainable.safetensors  every trained tensor, under its {@link TrainableParameter} name
 *   optimizer.safetensors  AdamW's m.NAME and v.NAME
 *   state.json             step, AdamW's t, scheduler step, data cursor, RNG rule, losses so far, config
 * </pre>
 * A checkpoint is written into a temporary folder beside the others and renamed into place,
 * so a process killed mid-write leaves either the previous checkpoint or the new one, never a
 * torn one. The data cursor and RNG need no stream state: batch order is a pure function of
 * (seed, epoch) and dropout is reseeded per micro-batch from (seed, step, micro-batch), so the
 * step number restores both.
 */
public final class Checkpoint {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String PREFIX = "step-";

    /**
     * @param step            optimizer steps done
     * @param epoch           data cursor: epoch of the next step
     * @param microBatch      data cursor: first micro-batch of the next step within its epoch
     * @param optimizerSteps  AdamW's t
     * @param losses          per-step training losses so far
     */
    public record State(int step, int epoch, int microBatch, long seed, long optimizerSteps, List<Double> losses,
            Map<String, Object> config, String rng) {}

    private Checkpoint() {}

    public static Path save(Path root, TrainableSet set, AdamW optimizer, State state, int keep) {
        Path target = root.resolve(name(state.step()));
        Path temp = root.resolve(".tmp-" + name(state.step()) + "-" + System.nanoTime());
        try {
            Files.createDirectories(temp);
            Map<String, NDArray> weights = new LinkedHashMap<>();
            set.parameters().forEach(p -> weights.put(p.name(), p.value()));
            SafetensorsWriter.write(temp.resolve("trainable.safetensors"), weights, Map.of("format", "forgeline-trainable"));
            SafetensorsWriter.write(temp.resolve("optimizer.safetensors"), optimizer.state(), Map.of("format", "forgeline-adamw"));
            JSON.writeValue(temp.resolve("state.json").toFile(), state);
            if (Files.exists(target)) {
                deleteTree(target); // the same step again after a resume: deterministic, so the same content
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            prune(root, keep);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
        } finally {
            if (Files.exists(temp)) {
                deleteTree(temp);
            }
        }
    }

    /** The newest complete checkpoint under {@code root}, if any. */
    public static Optional<Path> latest(Path root) {
        if (root == null || !Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> p.getFileName().toString().startsWith(PREFIX))
                    .filter(p -> Files.isRegularFile(p.resolve("state.json")))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies the checkpoint's tensors into the trainable set and the optimizer; returns its state. */
    public static State load(Path dir, TrainableSet set, AdamW optimizer) {
        try {
            State state = JSON.readValue(dir.resolve("state.json").toFile(), State.class);
            NDManager owner = set.parameters().get(0).value().getManager();
            try (NoGradient ignored = NoGradient.enter(); NDManager scratch = owner.newSubManager();
                    SafetensorsReader weights = SafetensorsReader.open(dir.resolve("trainable.safetensors"));
                    SafetensorsReader adam = SafetensorsReader.open(dir.resolve("optimizer.safetensors"))) {
                List<String> missing = new ArrayList<>();
                for (TrainableParameter p : set.parameters()) {
                    if (!weights.contains(p.name())) {
                        missing.add(p.name());
                    }
                }
                if (!missing.isEmpty() || weights.names().size() != set.parameters().size()) {
                    throw new IllegalStateException("checkpoint " + dir + " does not match this run's trainable tensors"
                            + (missing.isEmpty() ? "" : "; missing " + missing.subList(0, Math.min(5, missing.size()))));
                }
                for (TrainableParameter p : set.parameters()) {
                    weights.read(p.name(), scratch, p.value().getDataType()).copyTo(p.value());
                }
                Map<String, NDArray> m = new LinkedHashMap<>();
                for (String name : adam.names()) {
                    m.put(name, adam.read(name, scratch, DataType.FLOAT32));
                }
                optimizer.load(m, state.optimizerSteps());
            }
            return state;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint " + dir + ": " + e.getMessage(), e);
        }
    }

    static String name(int step) {
        return String.format("%s%08d", PREFIX, step);
    }

    private static void prune(Path root, int keep) throws IOException {
        if (keep <= 0) {
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.list(root)) {
            all = s.filter(p -> p.getFileName().toString().startsWith(PREFIX)).sorted().toList();
        }
        for (int i = 0; i < all.size() - keep; i++) {
            deleteTree(all.get(i));
        }
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
