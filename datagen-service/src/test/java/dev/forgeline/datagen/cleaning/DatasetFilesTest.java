package dev.forgeline.datagen.cleaning;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.jobs.ArtifactStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

import static dev.forgeline.contracts.ChatTurn.assistant;
import static dev.forgeline.contracts.ChatTurn.system;
import static dev.forgeline.contracts.ChatTurn.user;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DatasetFilesTest {
    @TempDir
    Path dir;

    private static List<Conversation> examples(int n) {
        List<Conversation> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(new Conversation(List.of(user("Question " + i + "?"), assistant("Answer " + i + "."))));
        }
        return list;
    }

    private static List<Conversation> readBack(ArtifactStore store, String path) throws IOException {
        try (InputStream in = store.open(path)) {
            return DatasetFiles.read(in);
        }
    }

    @Test
    void splitCounts() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        assertSplit(store, 100, 0.1, 90, 10);
        assertSplit(store, 25, 0.1, 22, 3); // round(2.5) = 3
        assertSplit(store, 2, 0.1, 1, 1); // at least one test example
        assertSplit(store, 10, 0.0, 10, 0);
        assertSplit(store, 1, 0.5, 1, 0); // never all of them
        assertSplit(store, 3, 0.9, 1, 2);
        assertSplit(store, 0, 0.1, 0, 0);
        assertThrows(IllegalArgumentException.class, () -> DatasetFiles.write(store, "d", examples(3), null, 1.0, 1));
        assertThrows(IllegalArgumentException.class, () -> DatasetFiles.write(store, "../d", examples(3), null, 0.1, 1));
    }

    private void assertSplit(ArtifactStore store, int n, double fraction, int train, int test) throws IOException {
        String id = "split-" + n + "-" + fraction;
        DatasetFiles.Written w = DatasetFiles.write(store, id, examples(n), null, fraction, 7);
        assertEquals(train, w.train(), id);
        assertEquals(test, w.test(), id);
        assertEquals(train, readBack(store, "datasets/" + id + "/train.jsonl").size());
        assertEquals(test, readBack(store, "datasets/" + id + "/test.jsonl").size());
        // every example lands in exactly one file
        Set<Conversation> all = new HashSet<>(readBack(store, DatasetFiles.trainPath(id)));
        all.addAll(readBack(store, DatasetFiles.testPath(id)));
        assertEquals(new HashSet<>(examples(n)), all);
    }

    @Test
    void urisAndHashDescribeTheFiles() throws Exception {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        DatasetFiles.Written w = DatasetFiles.write(store, "ds1", examples(20), null, 0.2, 3);
        assertEquals(store.uri("datasets/ds1/train.jsonl").toString(), w.trainUri());
        assertEquals(store.uri("datasets/ds1/test.jsonl").toString(), w.testUri());
        assertTrue(w.trainUri().startsWith("file:"), w.trainUri());

        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(store.read("datasets/ds1/train.jsonl"));
        sha.update(store.read("datasets/ds1/test.jsonl"));
        assertEquals("sha256:" + HexFormat.of().formatHex(sha.digest()), w.contentHash());
    }

    @Test
    void sameSeedSameFilesOtherSeedOtherOrder() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        DatasetFiles.Written a = DatasetFiles.write(store, "a", examples(50), "Be brief.", 0.2, 11);
        DatasetFiles.Written b = DatasetFiles.write(store, "b", examples(50), "Be brief.", 0.2, 11);
        DatasetFiles.Written c = DatasetFiles.write(store, "c", examples(50), "Be brief.", 0.2, 12);
        assertArrayEquals(store.read("datasets/a/train.jsonl"), store.read("datasets/b/train.jsonl"));
        assertArrayEquals(store.read("datasets/a/test.jsonl"), store.read("datasets/b/test.jsonl"));
        assertEquals(a.contentHash(), b.contentHash());
        assertNotEquals(a.contentHash(), c.contentHash());
        // the shuffle really shuffles: the input order is not kept
        List<Conversation> train = readBack(store, "datasets/a/train.jsonl");
        assertNotEquals(examples(50).subList(0, 40), train.stream().map(x -> DatasetFiles.withSystemPrompt(x, null)).toList());
    }

    @Test
    void hashChangesWithContent() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        List<Conversation> changed = new ArrayList<>(examples(10));
        changed.set(4, new Conversation(List.of(user("Question 4?"), assistant("A different answer."))));
        String h1 = DatasetFiles.write(store, "h1", examples(10), null, 0.2, 5).contentHash();
        String h2 = DatasetFiles.write(store, "h2", changed, null, 0.2, 5).contentHash();
        String h3 = DatasetFiles.write(store, "h3", examples(10), "New system prompt.", 0.2, 5).contentHash();
        assertTrue(h1.matches("sha256:[0-9a-f]{64}"), h1);
        assertNotEquals(h1, h2);
        assertNotEquals(h1, h3);
        assertEquals(h1, DatasetFiles.write(store, "h4", examples(10), null, 0.2, 5).contentHash());
    }

    @Test
    void systemPromptLeadsEveryLineAndReplacesTheOldOne() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        List<Conversation> kept = new ArrayList<>(examples(9));
        kept.add(new Conversation(List.of(system("Old prompt."), user("Q?"), assistant("A."))));
        DatasetFiles.write(store, "sys", kept, "You are Forgeline's support bot.", 0.3, 1);

        int lines = 0;
        for (String file : List.of("datasets/sys/train.jsonl", "datasets/sys/test.jsonl")) {
            String text = new String(store.read(file), StandardCharsets.UTF_8);
            assertTrue(text.endsWith("\n"));
            for (String line : text.split("\n")) {
                lines++;
                JsonNode messages = ContractsJson.mapper().readTree(line).get("messages");
                assertEquals("system", messages.get(0).get("role").asText());
                assertEquals("You are Forgeline's support bot.", messages.get(0).get("content").asText());
                assertEquals(3, messages.size(), line);
                assertEquals("user", messages.get(1).get("role").asText());
                assertTrue(!line.contains("Old prompt."), line);
            }
        }
        assertEquals(10, lines);
    }

    @Test
    void blankSystemPromptDropsSystemMessages() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        List<Conversation> kept = List.of(new Conversation(List.of(system("Old."), user("Q?"), assistant("A."))));
        DatasetFiles.write(store, "nosys", kept, "  ", 0.0, 1);
        assertEquals("{\"messages\":[{\"role\":\"user\",\"content\":\"Q?\"},{\"role\":\"assistant\",\"content\":\"A.\"}]}\n",
                new String(store.read("datasets/nosys/train.jsonl"), StandardCharsets.UTF_8));
    }

    @Test
    void readRoundTrip() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        List<Conversation> kept = List.of(
                new Conversation(List.of(user("Multi\nline \"quoted\" question?"), assistant("Ünïcödé ✓ and 😀."))),
                new Conversation(List.of(user("q1?"), assistant("a1."), user("q2?"), assistant("a2."))));
        DatasetFiles.write(store, "rt", kept, "Sys.", 0.0, 2);
        String text = new String(store.read("datasets/rt/train.jsonl"), StandardCharsets.UTF_8);
        assertEquals(2, text.split("\n").length, "newlines inside messages are escaped");
        assertTrue(text.contains("Ünïcödé ✓"), "UTF-8, not \\u escapes");

        List<Conversation> back = readBack(store, "datasets/rt/train.jsonl");
        Set<Conversation> expected = Set.of(
                new Conversation(List.of(ChatTurn.system("Sys."), user("Multi\nline \"quoted\" question?"), assistant("Ünïcödé ✓ and 😀."))),
                new Conversation(List.of(ChatTurn.system("Sys."), user("q1?"), assistant("a1."), user("q2?"), assistant("a2."))));
        assertEquals(expected, new HashSet<>(back));
    }

    @Test
    void readSkipsBlankLinesAndNamesTheBadOne() {
        String jsonl = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n\n{not json}\n";
        IOException e = assertThrows(IOException.class,
                () -> DatasetFiles.read(new ByteArrayInputStream(jsonl.getBytes(StandardCharsets.UTF_8))));
        assertTrue(e.getMessage().startsWith("line 3"), e.getMessage());
    }
}
