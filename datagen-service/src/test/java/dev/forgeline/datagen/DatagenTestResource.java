package dev.forgeline.datagen;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;

/** A fresh artifact store, and a teacher timeout short enough for a test to wait out. */
public class DatagenTestResource implements QuarkusTestResourceLifecycleManager {
    @Override
    public Map<String, String> start() {
        try {
            return Map.of(
                    "forge.artifacts.root", Files.createTempDirectory("forge-datagen-test-").toString(),
                    "forge.datagen.teacher.timeout", "1500ms");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        // the temporary store is left for a look after a failure; the OS cleans it
    }
}
