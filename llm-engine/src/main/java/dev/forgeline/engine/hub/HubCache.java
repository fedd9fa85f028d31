package dev.forgeline.engine.hub;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * The on-disk layout of huggingface_hub's cache, so that Python tools and Forgeline share it:
 * <pre>
 * {cacheDir}/models--org--name/
 *   refs/main                      the commit hash the branch pointed to when downloaded
 *   blobs/{etag}                   file contents, named by git sha1 or LFS sha256
 *   blobs/{etag}.incomplete        a download in progress (resumed with an HTTP Range)
 *   snapshots/{commit}/{file}      relative symlinks into blobs (copies where links fail)
 *   .no_exist/{commit}/{file}      empty markers: the file does not exist at that commit
 * {cacheDir}/.locks/models--org--name/{etag}.lock
 * </pre>
 */
final class HubCache {

    private final Path cacheDir;
    private final HubModelId id;
    private final Path repoDir;

    HubCache(Path cacheDir, HubModelId id) {
        this.cacheDir = cacheDir;
        this.id = id;
        this.repoDir = cacheDir.resolve(id.cacheFolderName());
    }

    /** The commit the revision resolves to in the cache, if known. */
    Optional<String> cachedCommit() throws IOException {
        if (id.pinnedToCommit()) {
            return Optional.of(id.revision());
        }
        Path ref = refFile();
        return Files.isRegularFile(ref) ? Optional.of(Files.readString(ref).strip()) : Optional.empty();
    }

    void writeRef(String commit) throws IOException {
        if (id.pinnedToCommit()) {
            return;
        }
        Path ref = refFile();
        Files.createDirectories(ref.getParent());
        Path tmp = Files.createTempFile(ref.getParent(), ".ref", ".tmp");
        Files.writeString(tmp, commit);
        Files.move(tmp, ref, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    Path snapshot(String commit) {
        return repoDir.resolve("snapshots").resolve(commit);
    }

    Path pointer(String commit, String file) {
        return snapshot(commit).resolve(file);
    }

    Path blob(String etag) {
        return repoDir.resolve("blobs").resolve(etag);
    }

    Path incomplete(String etag) {
        return repoDir.resolve("blobs").resolve(etag + ".incomplete");
    }

    Path lock(String etag) {
        return cacheDir.resolve(".locks").resolve(id.cacheFolderName()).resolve(etag + ".lock");
    }

    Path noExist(String commit, String file) {
        return repoDir.resolve(".no_exist").resolve(commit).resolve(file);
    }

    void markMissing(String commit, String file) throws IOException {
        Path marker = noExist(commit, file);
        Files.createDirectories(marker.getParent());
        if (!Files.exists(marker)) {
            Files.createFile(marker);
        }
    }

    /** Makes {@code snapshots/{commit}/{file}} point at the blob. */
    void link(String commit, String file, Path blob) throws IOException {
        Path pointer = pointer(commit, file);
        Files.createDirectories(pointer.getParent());
        if (Files.exists(pointer)) {
            return;
        }
        try {
            Files.createSymbolicLink(pointer, pointer.getParent().relativize(blob));
        } catch (FileAlreadyExistsException e) {
            // another process linked it first
        } catch (UnsupportedOperationException | IOException e) {
            // file systems without symlinks: a copy, as huggingface_hub does on Windows
            Files.copy(blob, pointer, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private Path refFile() {
        return repoDir.resolve("refs").resolve(id.revision());
    }
}
