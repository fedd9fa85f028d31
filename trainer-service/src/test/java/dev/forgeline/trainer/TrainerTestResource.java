package dev.forgeline.trainer;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;

/** A fresh artifact store, the shared models folder as base models, a progress event every step, the CPU. */
public class TrainerTestResource implements QuarkusTestResourceLifecycleManager {
    @Override
    public Map<String, String> start() {
        try {
            return Map.of(
                    "forge.artifacts.root", Files.createTempDirectory("forge-trainer-test-").toString(),
                    "forge.base-models", TinyTask.modelsDir().toString(),
                    "forge.trainer.progress-every", "1",
                    "forge.trainer.device", "cpu");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        // the temporary store is left for a look after a failure; the OS cleans it
    }
}
