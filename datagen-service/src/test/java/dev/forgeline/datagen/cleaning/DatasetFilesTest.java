package dev.forgeline.datagen.cleaning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.jobs.ArtifactStore;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetFilesTest {

    private static List<Conversation> examples(int n, String suffix) {
        List<Conversation> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Conversation(List.of(ChatTurn.system("old"), ChatTurn.user("q" + i), ChatTurn.assistant("a" + i + suffix))));
        }
        return out;
    }

    private static List<Conversation> read(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return DatasetFiles.read(in);
        }
    }

    @Test
    void splitsBySeedWithTheSystemPromptOnEveryExample(@TempDir Path dir) throws Exception {
        ArtifactStore store = ArtifactStore.fromUri(dir.toString());
        DatasetFiles.Written w = DatasetFiles.write(store, "ds", examples(20, ""), "Given X, you will Y.", 0.1, 42);
        assertEquals(18, w.train());
        assertEquals(2, w.test());
        List<Conversation> train = read(dir.resolve("datasets/ds/train.jsonl"));
        List<Conversation> test = read(dir.resolve("datasets/ds/test.jsonl"));
        assertEquals(18, train.size());
        assertEquals(2, test.size());
        for (Conversation c : train) {
            assertEquals(List.of("system", "user", "assistant"), c.messages().stream().map(ChatTurn::role).toList());
            assertEquals("Given X, you will Y.", c.messages().get(0).content());
        }
        assertTrue(Files.readString(dir.resolve("datasets/ds/train.jsonl")).startsWith("{\"messages\":[{\"role\":\"system\""));
        assertTrue(w.trainUri().endsWith("datasets/ds/train.jsonl"));

        DatasetFiles.Written again = DatasetFiles.write(ArtifactStore.fromUri(dir.resolve("again").toString()), "ds",
                examples(20, ""), "Given X, you will Y.", 0.1, 42);
        assertEquals(w.contentHash(), again.contentHash(), "the same seed splits the same way");
        DatasetFiles.Written otherSeed = DatasetFiles.write(ArtifactStore.fromUri(dir.resolve("seed").toString()), "ds",
                examples(20, ""), "Given X, you will Y.", 0.1, 7);
        assertNotEquals(w.contentHash(), otherSeed.contentHash());
        DatasetFiles.Written otherText = DatasetFiles.write(ArtifactStore.fromUri(dir.resolve("text").toString()), "ds",
                examples(20, "!"), "Given X, you will Y.", 0.1, 42);
        assertNotEquals(w.contentHash(), otherText.contentHash());
    }

    @Test
    void smallSetsKeepOneOfEachAndNoPromptKeepsTheirs(@TempDir Path dir) throws Exception {
        DatasetFiles.Written w = DatasetFiles.write(ArtifactStore.fromUri(dir.toString()), "ds", examples(3, ""), null, 0.01, 1);
        assertEquals(2, w.train());
        assertEquals(1, w.test());
        assertEquals("old", read(dir.resolve("datasets/ds/test.jsonl")).get(0).messages().get(0).content());
        DatasetFiles.Written none = DatasetFiles.write(ArtifactStore.fromUri(dir.toString()), "ds0", examples(3, ""), null, 0, 1);
        assertEquals(0, none.test());
    }
}
