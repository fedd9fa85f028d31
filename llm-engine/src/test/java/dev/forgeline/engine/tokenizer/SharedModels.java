package dev.forgeline.engine.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the test models in the project's shared folder (never copied into the repository). */
final class SharedModels {

    private SharedModels() {}

    /** {@code shared/models/stories260k}: from FORGE_SHARED_DIR, else by walking up from the working dir. */
    static Path stories260k() {
        String env = System.getenv("FORGE_SHARED_DIR");
        if (env != null && Files.isDirectory(Path.of(env, "models", "stories260k"))) {
            return Path.of(env, "models", "stories260k");
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve("models").resolve("stories260k");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/models/stories260k not found above "
                + Path.of("").toAbsolutePath() + "; set FORGE_SHARED_DIR");
    }
}
