package dev.forgeline.engine;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the project's shared/ folder (models and data sets that are not copied into the repo):
 * $FORGE_SHARED_DIR, else the first shared/ with a models/ folder found walking up from the
 * working directory (surefire runs in the module directory, two levels below the repo root's
 * parent), else the one beside the checkout this one was cloned from (a fresh clone in /tmp
 * has no shared/ above it).
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
        Path origin = localOrigin();
        if (origin != null && Files.isDirectory(origin.resolveSibling("shared").resolve("models"))) {
            return origin.resolveSibling("shared");
        }
        throw new IllegalStateException("no shared/models folder above " + Path.of("").toAbsolutePath()
                + " or beside the git origin; set FORGE_SHARED_DIR");
    }

    /** The git remote "origin" when it is a directory on this machine, else null. */
    private static Path localOrigin() {
        try {
            Process git = new ProcessBuilder("git", "config", "--get", "remote.origin.url").redirectErrorStream(true).start();
            String url = new String(git.getInputStream().readAllBytes()).trim();
            if (git.waitFor() != 0 || url.isEmpty() || url.contains("://") || url.contains("@")) {
                return null;
            }
            Path p = Path.of(url.startsWith("file:") ? url.substring(5) : url).toAbsolutePath().normalize();
            return Files.isDirectory(p) ? p : null;
        } catch (java.io.IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    public static Path model(String name) {
        Path p = root().resolve("models").resolve(name);
        if (!Files.isDirectory(p)) {
            throw new IllegalStateException("shared model " + name + " not found at " + p);
        }
        return p;
    }
}
