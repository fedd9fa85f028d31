package dev.forgeline.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ArtifactStoreTest {
    @TempDir
    Path root;

    @Test
    void writeReadListDelete() throws IOException {
        ArtifactStore store = ArtifactStore.fromUri(root.toUri().toString());
        store.write("datasets/ds-1/train.jsonl", "{\"messages\":[]}\n".getBytes(StandardCharsets.UTF_8));
        store.write("datasets/ds-1/test.jsonl", out -> out.write("x".getBytes(StandardCharsets.UTF_8)));
        store.write("models/m-1/config.json", "{}".getBytes(StandardCharsets.UTF_8));
        assertEquals("{\"messages\":[]}\n", new String(store.read("datasets/ds-1/train.jsonl"), StandardCharsets.UTF_8));
        try (var in = store.open("datasets/ds-1/test.jsonl")) {
            assertEquals("x", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        assertEquals(List.of("datasets/ds-1/test.jsonl", "datasets/ds-1/train.jsonl"), store.list("datasets"));
        assertEquals(3, store.list("").size());
        assertEquals(List.of(), store.list("nothing/here"));
        assertTrue(store.exists("models/m-1/config.json"));
        assertEquals(root.toRealPath().resolve("models/m-1").toUri(), store.uri("models/m-1"));
        assertTrue(store.uri("models/m-1").toString().startsWith("file:/"));
        store.delete("datasets/ds-1");
        assertFalse(store.exists("datasets/ds-1/train.jsonl"));
        assertEquals(List.of("models/m-1/config.json"), store.list(""));
        store.delete("never/was"); // no error
    }

    @Test
    void aFailedWriteLeavesTheOldContentAndNoTemporaryFile() throws IOException {
        ArtifactStore store = new FileArtifactStore(root);
        store.write("models/m/card.json", "old".getBytes(StandardCharsets.UTF_8));
        assertThrows(IOException.class, () -> store.write("models/m/card.json", out -> {
            out.write("half of the new con".getBytes(StandardCharsets.UTF_8));
            throw new IOException("disk full");
        }));
        assertArrayEquals("old".getBytes(StandardCharsets.UTF_8), store.read("models/m/card.json"));
        try (var files = Files.list(root.resolve("models/m"))) {
            assertEquals(List.of("card.json"), files.map(p -> p.getFileName().toString()).toList());
        }
        store.write("models/m/card.json", "new".getBytes(StandardCharsets.UTF_8));
        assertArrayEquals("new".getBytes(StandardCharsets.UTF_8), store.read("models/m/card.json"));
    }

    @Test
    void directoriesAppearWholeOrNotAtAll() throws IOException {
        ArtifactStore store = new FileArtifactStore(root);
        store.writeDirectory("checkpoints/j/step-2", dir -> {
            Files.writeString(dir.resolve("adapter.safetensors"), "w2");
            Files.writeString(dir.resolve("optimizer.bin"), "o2");
        });
        assertThrows(IOException.class, () -> store.writeDirectory("checkpoints/j/step-4", dir -> {
            Files.writeString(dir.resolve("adapter.safetensors"), "w4");
            throw new IOException("killed mid-save");
        }));
        assertEquals(List.of("checkpoints/j/step-2/adapter.safetensors", "checkpoints/j/step-2/optimizer.bin"),
                store.list("checkpoints"));
        // replacing a directory swaps it whole
        store.writeDirectory("checkpoints/j/step-2", dir -> Files.writeString(dir.resolve("adapter.safetensors"), "w2b"));
        assertEquals(List.of("checkpoints/j/step-2/adapter.safetensors"), store.list("checkpoints/j"));
        assertEquals("w2b", new String(store.read("checkpoints/j/step-2/adapter.safetensors"), StandardCharsets.UTF_8));
        try (var files = Files.list(root.resolve("checkpoints/j"))) {
            assertEquals(List.of("step-2"), files.map(p -> p.getFileName().toString()).toList(), "no temporary leftovers");
        }
    }

    @Test
    void pathsStayInsideTheStore() {
        ArtifactStore store = new FileArtifactStore(root);
        assertThrows(IllegalArgumentException.class, () -> store.write("../escape", new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> store.read("/etc/passwd"));
        assertThrows(IllegalArgumentException.class, () -> store.delete(""));
    }

    @Test
    void urisNameTheKindOfStore() {
        assertEquals(root.toAbsolutePath(), ((FileArtifactStore) ArtifactStore.fromUri("file:" + root)).root());
        assertEquals(root.toAbsolutePath(), ((FileArtifactStore) ArtifactStore.fromUri(root.toString())).root());
        var s3 = assertThrows(UnsupportedOperationException.class, () -> ArtifactStore.fromUri("s3://bucket/forge"));
        assertTrue(s3.getMessage().contains("s3: is not supported yet"), s3.getMessage());
        var other = assertThrows(IllegalArgumentException.class, () -> ArtifactStore.fromUri("gs://bucket"));
        assertTrue(other.getMessage().contains("unknown scheme 'gs'"), other.getMessage());
    }
}
