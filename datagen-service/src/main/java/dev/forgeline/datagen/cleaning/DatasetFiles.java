package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.jobs.ArtifactStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A dataset as the trainer reads it: {@code datasets/{id}/train.jsonl} and {@code test.jsonl} in
 * OpenAI's chat fine-tuning format, one {@code {"messages": [...]}} a line, split by a seeded shuffle.
 */
public final class DatasetFiles {
    public record Written(String trainUri, String testUri, int train, int test, String contentHash) {}

    private DatasetFiles() {}

    /**
     * {@code systemPrompt}: the first message of every example (replacing any system message);
     * null or blank leaves the examples' own.
     */
    public static Written write(ArtifactStore store, String datasetId, List<Conversation> kept, String systemPrompt,
            double testFraction, long seed) throws IOException {
        List<Conversation> examples = new ArrayList<>(kept.size());
        for (Conversation c : kept) {
            examples.add(systemPrompt == null || systemPrompt.isBlank() ? c : withSystem(c, systemPrompt));
        }
        Collections.shuffle(examples, new Random(seed));
        int n = examples.size();
        int test = (int) Math.round(n * testFraction);
        if (testFraction > 0 && n >= 2) {
            test = Math.max(1, Math.min(n - 1, test));
        }
        byte[] train = jsonl(examples.subList(0, n - test));
        byte[] held = jsonl(examples.subList(n - test, n));
        String dir = "datasets/" + datasetId + "/";
        store.write(dir + "train.jsonl", train);
        store.write(dir + "test.jsonl", held);
        return new Written(store.uri(dir + "train.jsonl").toString(), store.uri(dir + "test.jsonl").toString(), n - test, test,
                "sha256:" + sha256(train, held));
    }

    /** The examples of a file {@link #write} wrote. */
    public static List<Conversation> read(InputStream jsonl) throws IOException {
        List<Conversation> out = new ArrayList<>();
        BufferedReader r = new BufferedReader(new InputStreamReader(jsonl, StandardCharsets.UTF_8));
        for (String line = r.readLine(); line != null; line = r.readLine()) {
            if (!line.isBlank()) {
                out.add(ContractsJson.mapper().readValue(line, Conversation.class));
            }
        }
        return out;
    }

    private static Conversation withSystem(Conversation c, String systemPrompt) {
        List<ChatTurn> turns = new ArrayList<>();
        turns.add(ChatTurn.system(systemPrompt));
        c.messages().stream().filter(t -> !"system".equals(t.role())).forEach(turns::add);
        return new Conversation(turns);
    }

    private static byte[] jsonl(List<Conversation> examples) throws IOException {
        StringBuilder b = new StringBuilder();
        for (Conversation c : examples) {
            b.append(ContractsJson.mapper().writeValueAsString(Map.of("messages", c.messages()))).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String sha256(byte[]... parts) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (byte[] p : parts) d.update(p);
            return java.util.HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
