package dev.forgeline.trainer;

import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.engine.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The tests' model and data: {@code stories260k} from the shared folder, and a small fixed
 * mapping (colour to a fruit of that colour) as chat JSONL, so a few LoRA steps visibly lower the loss.
 */
final class TinyTask {
    static final String MODEL = "stories260k";
    private static final String[][] PAIRS = {
        {"red", "apple"}, {"yellow", "banana"}, {"green", "lime"}, {"purple", "grape"},
        {"orange", "orange"}, {"brown", "kiwi"}, {"pink", "peach"}, {"blue", "berry"},
    };
    private static final String[] PHRASINGS = {"Fruit for %s?", "Name a %s fruit.", "Which fruit is %s?"};

    private TinyTask() {}

    /** The shared folder's {@code models/} (see {@link SharedData}). */
    static Path modelsDir() {
        return SharedData.root().resolve("models");
    }

    static Path modelDir() {
        return modelsDir().resolve(MODEL);
    }

    /** Writes {@code train.jsonl} (24 examples) and {@code test.jsonl} (8, other phrasings' order) into {@code dir}. */
    static Path writeDataset(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String> train = new ArrayList<>();
        List<String> test = new ArrayList<>();
        for (int i = 0; i < PAIRS.length; i++) {
            for (int j = 0; j < PHRASINGS.length; j++) {
                train.add(line(String.format(PHRASINGS[j], PAIRS[i][0]), PAIRS[i][1]));
            }
            test.add(line("A " + PAIRS[i][0] + " fruit?", PAIRS[i][1]));
        }
        Files.write(dir.resolve("train.jsonl"), train);
        Files.write(dir.resolve("test.jsonl"), test);
        return dir;
    }

    /**
     * The same mapping as preferences: the right fruit chosen, the next colour's fruit rejected;
     * {@code train.jsonl} (24 pairs) and {@code test.jsonl} (8, another phrasing), TRL's conversational shape.
     */
    static Path writePreferences(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String> train = new ArrayList<>();
        List<String> test = new ArrayList<>();
        for (int i = 0; i < PAIRS.length; i++) {
            String wrong = PAIRS[(i + 1) % PAIRS.length][1];
            for (int j = 0; j < PHRASINGS.length; j++) {
                train.add(preference(String.format(PHRASINGS[j], PAIRS[i][0]), PAIRS[i][1], wrong));
            }
            test.add(preference("A " + PAIRS[i][0] + " fruit?", PAIRS[i][1], wrong));
        }
        Files.write(dir.resolve("train.jsonl"), train);
        Files.write(dir.resolve("test.jsonl"), test);
        return dir;
    }

    static String preference(String user, String chosen, String rejected) {
        return "{\"prompt\":[{\"role\":\"user\",\"content\":\"" + user + "\"}],"
                + "\"chosen\":[{\"role\":\"assistant\",\"content\":\"" + chosen + ".\"}],"
                + "\"rejected\":[{\"role\":\"assistant\",\"content\":\"" + rejected + ".\"}]}";
    }

    /**
     * A LoRA job on {@link #modelDir} with dropout, gradient accumulation and a cosine schedule, so
     * that a resume must restore the data cursor and the RNG too.
     */
    static TrainingRequest.Builder loraJob(String jobId, Path data, int steps, int saveInterval, int evalInterval, long seed) {
        return TrainingRequest.builder(jobId)
                .baseModel(modelDir().toString()).dataset(data.toUri().toString())
                .lora(new TrainingRequest.LoraSettings(8, 16.0, 0.1, null))
                .learningRate(5e-3).scheduler(TrainingRequest.Scheduler.COSINE).warmupRatio(0.1)
                .microBatchSize(4).gradientAccumulationSteps(2).maxSeqLength(64)
                .maxSteps(steps).saveInterval(saveInterval).evalInterval(evalInterval).seed(seed);
    }

    static String line(String user, String assistant) {
        return "{\"messages\":[{\"role\":\"system\",\"content\":\"Answer with one word.\"},"
                + "{\"role\":\"user\",\"content\":\"" + user + "\"},"
                + "{\"role\":\"assistant\",\"content\":\"" + assistant + "\"}]}";
    }
}
