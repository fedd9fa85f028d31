package dev.forgeline.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where datasets, models and checkpoints live, addressed by relative paths such as
 * {@code models/m1/config.json}. Writes are atomic: a reader sees the old content or the new,
 * never a part. Open one with {@link #fromUri(String)}: {@code file:/data/forge} today, {@code s3:} later.
 */
public interface ArtifactStore {
    /** The store's root, e.g. {@code file:/data/forge/}. */
    URI uri();

    /** The URI of {@code path} in this store, as it goes into cards: {@code file:/data/forge/models/m1}. */
    URI uri(String path);

    /** Writes a whole file atomically. */
    void write(String path, byte[] content) throws IOException;

    /** Streams a file in (for large weights); atomic like {@link #write(String, byte[])}. */
    void write(String path, ContentWriter writer) throws IOException;

    /**
     * Fills a directory (e.g. {@code checkpoints/job/step-300}) and puts it in place in one step, so a
     * crash in the middle leaves no half checkpoint. An existing directory of that name is replaced.
     */
    void writeDirectory(String path, DirectoryWriter writer) throws IOException;

    byte[] read(String path) throws IOException;

    InputStream open(String path) throws IOException;

    boolean exists(String path);

    /** Files under {@code prefix} (a directory path, "" for all), recursively, as store paths, sorted. */
    List<String> list(String prefix) throws IOException;

    /** Deletes a file or a directory tree; nothing happens when it does not exist. */
    void delete(String path) throws IOException;

    /** A local file for {@code path} where the store has one (a {@code file:} store always does), for libraries that read files. */
    Optional<Path> localPath(String path);

    @FunctionalInterface
    interface ContentWriter {
        void writeTo(OutputStream out) throws IOException;
    }

    @FunctionalInterface
    interface DirectoryWriter {
        /** Writes the directory's files into {@code dir}, a fresh empty directory. */
        void writeInto(Path dir) throws IOException;
    }

    /**
     * Opens the store a URI names: {@code file:/abs/dir} or {@code file:///abs/dir}, or a plain
     * directory path. {@code s3://bucket/prefix} is reserved and refused with a clear message.
     */
    static ArtifactStore fromUri(String uri) {
        if (uri == null || uri.isBlank()) throw new IllegalArgumentException("artifact store URI is empty");
        int colon = uri.indexOf(':');
        String scheme = colon > 1 ? uri.substring(0, colon).toLowerCase(java.util.Locale.ROOT) : "";
        switch (scheme) {
            case "file":
                return new FileArtifactStore(Path.of(URI.create(uri.startsWith("file://") ? uri : "file://" + uri.substring(5))));
            case "s3":
                throw new UnsupportedOperationException("artifact store '" + uri
                        + "': s3: is not supported yet; use a file: URI (a shared directory or PersistentVolumeClaim)");
            case "":
                return new FileArtifactStore(Path.of(uri));
            default:
                throw new IllegalArgumentException("artifact store '" + uri + "': unknown scheme '" + scheme
                        + "' (supported: file:)");
        }
    }
}
