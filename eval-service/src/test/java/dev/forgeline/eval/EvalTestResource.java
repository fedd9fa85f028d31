package dev.forgeline.eval;

import dev.forgeline.engine.SharedData;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;

/** A fresh artifact store, the shared models as base models, the shared data sets as named sets, the CPU. */
public class EvalTestResource implements QuarkusTestResourceLifecycleManager {
    @Override
    public Map<String, String> start() {
        try {
            return Map.of(
                    "forge.artifacts.root", Files.createTempDirectory("forge-eval-test-").toString(),
                    "forge.base-models", SharedData.root().resolve("models").toString(),
                    "forge.eval.sets", SharedData.root().resolve("datasets").toString(),
                    "forge.eval.device", "cpu");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        // the temporary store is left for a look after a failure; the OS cleans it
    }
}
