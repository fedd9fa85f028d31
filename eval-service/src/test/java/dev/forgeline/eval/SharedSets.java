package dev.forgeline.eval;

import dev.forgeline.engine.SharedData;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared MMLU set, read in place ({@code $FORGE_SHARED_DIR/datasets/mmlu}, see {@link SharedData}). */
final class SharedSets {
    private SharedSets() {}

    static Path mmlu() {
        Path p = SharedData.root().resolve("datasets").resolve("mmlu");
        if (!Files.isDirectory(p)) {
            throw new IllegalStateException("the shared MMLU set is not at " + p);
        }
        return p;
    }
}
