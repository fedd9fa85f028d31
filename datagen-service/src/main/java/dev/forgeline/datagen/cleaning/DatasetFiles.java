package dev.forgeline.datagen.cleaning;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.jobs.ArtifactStore;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * A dataset on disk: {@code datasets/{id}/train.jsonl} and {@code datasets/{id}/test.jsonl}, one
 * JSON object a line, UTF-8, lines ended by '\n': chat examples in OpenAI's fine-tuning format
 * ({@code {"messages":[{"role":..,"content":..},..]}}), or preference pairs in TRL's conversational
 * shape ({@code {"prompt":[..],"chosen":[..],"rejected":[..]}}), which the trainer's dpo reads.
 */
public final class DatasetFiles {
    private DatasetFiles() {}

    /**
     * What {@link #write} put in the store.
     *
     * @param contentHash {@code sha256:<hex>} over the train file's bytes followed by the test file's,
     *     so that the same examples in the same split give the same hash
     */
    public record Written(String trainUri, String testUri, int train, int test, String contentHash) {}

    public static String trainPath(String datasetId) {
        return "datasets/" + checkedId(datasetId) + "/train.jsonl";
    }

    public static String testPath(String datasetId) {
        return "datasets/" + checkedId(datasetId) + "/test.jsonl";
    }

    /**
     * Shuffles {@code kept} with {@code new Random(seed)}, splits off a test set and writes both files.
     *
     * @param systemPrompt becomes the first message of every example, replacing any system message
     *     there; null or blank leaves the examples without one
     * @param testFraction the share in [0, 1) held out for testing: round(n * testFraction) examples,
     *     at least 1 when the fraction is above 0 and there are 2 or more examples, and never all of
     *     them (a dataset without training examples is useless)
     */
    public static Written write(ArtifactStore store, String datasetId, List<Conversation> kept, String systemPrompt,
            double testFraction, long seed) throws IOException {
        List<Conversation> examples = new ArrayList<>(kept.size());
        for (Conversation c : kept) examples.add(withSystemPrompt(c, systemPrompt));
        return writeLines(store, datasetId, examples, c -> c, testFraction, seed).written();
    }

    /** What {@link #writeLines} wrote, and the items of each split in file order. */
    public record Split<T>(Written written, List<T> train, List<T> test) {}

    /**
     * Any items as JSON lines, one {@code json} a line, shuffled and split as {@link #write} does:
     * chat examples with extra fields, preference pairs ({@link dev.forgeline.contracts.PreferenceLine#toJson}).
     */
    public static <T> Split<T> writeLines(ArtifactStore store, String datasetId, List<T> items, Function<T, Object> json,
            double testFraction, long seed) throws IOException {
        if (!(testFraction >= 0 && testFraction < 1)) {
            throw new IllegalArgumentException("test fraction must be in [0, 1): " + testFraction);
        }
        String trainPath = trainPath(datasetId);
        String testPath = testPath(datasetId);

        List<T> shuffled = new ArrayList<>(items);
        Collections.shuffle(shuffled, new Random(seed));

        int n = shuffled.size();
        int test = testSize(n, testFraction);
        List<T> testSet = List.copyOf(shuffled.subList(0, test));
        List<T> trainSet = List.copyOf(shuffled.subList(test, n));

        byte[] trainBytes = jsonl(trainSet, json);
        byte[] testBytes = jsonl(testSet, json);
        store.write(trainPath, trainBytes);
        store.write(testPath, testBytes);

        MessageDigest sha = sha256();
        sha.update(trainBytes);
        sha.update(testBytes);
        Written written = new Written(store.uri(trainPath).toString(), store.uri(testPath).toString(), trainSet.size(),
                testSet.size(), "sha256:" + HexFormat.of().formatHex(sha.digest()));
        return new Split<>(written, trainSet, testSet);
    }

    /** Writes {@code datasets/{id}/card.json}; returns its URI. */
    public static String writeCard(ArtifactStore store, DatasetCard card) throws IOException {
        String path = "datasets/" + checkedId(card.id()) + "/card.json";
        store.write(path, ContractsJson.write(card).getBytes(StandardCharsets.UTF_8));
        return store.uri(path).toString();
    }

    /** round(n * fraction), at least 1 for a positive fraction once there are 2 examples, at most n - 1. */
    static int testSize(int n, double fraction) {
        if (n == 0 || fraction <= 0) return 0;
        long test = Math.round(n * fraction);
        if (n >= 2) test = Math.max(1, Math.min(test, n - 1));
        else test = 0;
        return (int) test;
    }

    /** Reads a file written by {@link #write}; blank lines are skipped. Does not close {@code jsonl}. */
    public static List<Conversation> read(InputStream jsonl) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(jsonl, StandardCharsets.UTF_8));
        List<Conversation> examples = new ArrayList<>();
        String line;
        int number = 0;
        while ((line = reader.readLine()) != null) {
            number++;
            if (line.isBlank()) continue;
            try {
                examples.add(ContractsJson.mapper().readValue(line, Conversation.class));
            } catch (JsonProcessingException e) {
                throw new IOException("line " + number + " is not a chat example: " + e.getOriginalMessage(), e);
            }
        }
        return examples;
    }

    static Conversation withSystemPrompt(Conversation c, String systemPrompt) {
        List<ChatTurn> messages = new ArrayList<>(c.messages().size() + 1);
        if (systemPrompt != null && !systemPrompt.isBlank()) messages.add(ChatTurn.system(systemPrompt));
        for (ChatTurn t : c.messages()) {
            if (!"system".equals(t.role())) messages.add(t);
        }
        return new Conversation(messages);
    }

    private static <T> byte[] jsonl(List<T> items, Function<T, Object> json) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (T item : items) {
            // Jackson escapes newlines inside strings, so each example stays on one line
            out.writeBytes(ContractsJson.write(json.apply(item)).getBytes(StandardCharsets.UTF_8));
            out.write('\n');
        }
        return out.toByteArray();
    }

    /** One path segment: the id names a directory under datasets/ and must not reach outside it. */
    private static String checkedId(String datasetId) {
        if (datasetId == null || datasetId.isBlank() || datasetId.contains("/") || datasetId.contains("\\")
                || datasetId.equals(".") || datasetId.equals("..")) {
            throw new IllegalArgumentException("dataset id must be one path segment: " + datasetId);
        }
        return datasetId;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM lacks SHA-256", e);
        }
    }
}
