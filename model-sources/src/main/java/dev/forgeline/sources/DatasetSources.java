package dev.forgeline.sources;

import dev.forgeline.jobs.ArtifactStore;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a request's {@code dataset} into the JSONL files to train on: a dataset id names
 * {@code datasets/{id}/train.jsonl} (and {@code test.jsonl}, the held-out set, when present) in
 * the artifact store, as datagen writes them; a {@code file:} URI or a path names either such a
 * folder or one JSONL file (trained on whole, no held-out set).
 */
public final class DatasetSources {
    public static final String TRAIN = "train.jsonl";
    public static final String TEST = "test.jsonl";

    /** @param heldOut null when the dataset has no test.jsonl */
    public record Dataset(String reference, Path train, Path heldOut) {}

    private final ArtifactStore store;

    public DatasetSources(ArtifactStore store) {
        this.store = store;
    }

    public Dataset resolve(String reference) {
        String ref = reference.strip();
        if (ref.startsWith("file:")) {
            return local(ref, LocalPaths.fromFileUri(ref, "dataset"));
        }
        if (LocalPaths.isId(ref) && store.exists("datasets/" + ref + "/" + TRAIN)) {
            Path dir = store.localPath("datasets/" + ref).orElseThrow(() -> new IllegalStateException(
                    "the artifact store " + store.uri() + " has no local files; reading datasets needs a file: store"));
            return folder(ref, dir);
        }
        Path path = Path.of(ref);
        if (path.isAbsolute() || Files.exists(path)) {
            return local(ref, path.toAbsolutePath());
        }
        throw new IllegalArgumentException("dataset '" + ref + "' not found: the artifact store " + store.uri() + " has no "
                + "datasets/" + ref + "/" + TRAIN + ", and no such file or folder exists");
    }

    private static Dataset local(String ref, Path path) {
        if (Files.isDirectory(path)) {
            if (!Files.isRegularFile(path.resolve(TRAIN))) {
                throw new IllegalArgumentException("dataset '" + ref + "': folder " + path + " has no " + TRAIN);
            }
            return folder(ref, path);
        }
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("dataset '" + ref + "' not found: no file or folder " + path);
        }
        return new Dataset(ref, path, null);
    }

    private static Dataset folder(String ref, Path dir) {
        Path test = dir.resolve(TEST);
        return new Dataset(ref, dir.resolve(TRAIN), Files.isRegularFile(test) ? test : null);
    }
}
