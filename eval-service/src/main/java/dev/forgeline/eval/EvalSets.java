package dev.forgeline.eval;

import dev.forgeline.sources.LocalPaths;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Turns a request's {@code dataset} into a multiple-choice set on disk: a {@code file:} URI, a
 * path, or the name of a set in the sets folder ({@code forge.eval.sets}, else the shared
 * {@code datasets/} folder), e.g. {@code mmlu}.
 */
final class EvalSets {
    private final Optional<Path> folder;

    EvalSets(Optional<Path> configured) {
        this.folder = configured.isPresent() ? configured : sharedDatasets();
    }

    McqSet read(String reference) {
        return McqSet.read(locate(reference.strip()));
    }

    private Path locate(String ref) {
        if (ref.startsWith("file:")) {
            return LocalPaths.fromFileUri(ref, "dataset");
        }
        Path path = Path.of(ref);
        if (path.isAbsolute() || Files.exists(path)) {
            return path;
        }
        if (LocalPaths.isId(ref) && folder.isPresent() && Files.exists(folder.get().resolve(ref))) {
            return folder.get().resolve(ref);
        }
        throw new IllegalArgumentException("dataset '" + ref + "' not found: no such file or folder, and no set of that name"
                + folder.map(f -> " in " + f + " (sets there: " + names(f) + ")").orElse(" (forge.eval.sets is not set)"));
    }

    private static String names(Path f) {
        try (Stream<Path> s = Files.list(f)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            return names.isEmpty() ? "none" : String.join(", ", names);
        } catch (IOException e) {
            return "cannot list: " + e.getMessage();
        }
    }

    /** {@code $FORGE_SHARED_DIR/datasets}, else {@code shared/datasets} above the working directory. */
    private static Optional<Path> sharedDatasets() {
        String shared = System.getenv("FORGE_SHARED_DIR");
        if (shared != null && !shared.isBlank()) {
            return Optional.of(Path.of(shared, "datasets")).filter(Files::isDirectory);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("datasets");
            if (Files.isDirectory(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
