package dev.forgeline.engine;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the project's shared/ folder (models and data sets that are not copied into the repo):
 * $FORGE_SHARED_DIR, else the first shared/ with a models/ folder found walking up from the
 * working directory (surefire runs in the module directory, two levels below the repo root's
 * parent).
 */
public final class SharedData {

    private SharedData() {}

    public static Path root() {
        String env = System.getenv("FORGE_SHARED_DIR");
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env).toAbsolutePath().normalize();
            if (Files.isDirectory(p.resolve("models"))) {
                return p;
            }
            throw new IllegalStateException("FORGE_SHARED_DIR=" + env + " has no models/ folder");
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared");
            if (Files.isDirectory(candidate.resolve("models"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no shared/models folder above " + Path.of("").toAbsolutePath()
                + "; set FORGE_SHARED_DIR");
    }

    public static Path model(String name) {
        Path p = root().resolve("models").resolve(name);
        if (!Files.isDirectory(p)) {
            throw new IllegalStateException("shared model " + name + " not found at " + p);
        }
        return p;
    }
}
