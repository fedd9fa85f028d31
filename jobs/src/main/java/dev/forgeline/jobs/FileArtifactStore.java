package dev.forgeline.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * An {@link ArtifactStore} on a directory (local, NFS or a Kubernetes volume). Atomicity comes from
 * writing into a hidden temporary sibling and renaming it into place, which POSIX makes atomic
 * within one file system.
 */
public final class FileArtifactStore implements ArtifactStore {
    /** Temporary files and directories start with this and are never listed. */
    static final String TMP_PREFIX = ".forge-tmp-";

    private final Path root;

    public FileArtifactStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create artifact store directory " + this.root, e);
        }
    }

    public Path root() {
        return root;
    }

    @Override
    public URI uri() {
        return root.toUri();
    }

    @Override
    public URI uri(String path) {
        return resolve(path).toUri();
    }

    @Override
    public void write(String path, byte[] content) throws IOException {
        write(path, out -> out.write(content));
    }

    @Override
    public void write(String path, ContentWriter writer) throws IOException {
        Path target = resolve(path);
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling(TMP_PREFIX + UUID.randomUUID() + "-" + target.getFileName());
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                writer.writeTo(out);
            }
            moveAtomically(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public void writeDirectory(String path, DirectoryWriter writer) throws IOException {
        Path target = resolve(path);
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling(TMP_PREFIX + UUID.randomUUID() + "-" + target.getFileName());
        Files.createDirectory(tmp);
        try {
            writer.writeInto(tmp);
            if (Files.exists(target)) {
                // A directory cannot be renamed over a non-empty one: move the old one aside first.
                Path old = target.resolveSibling(TMP_PREFIX + UUID.randomUUID() + "-old-" + target.getFileName());
                moveAtomically(target, old);
                moveAtomically(tmp, target);
                deleteTree(old);
            } else {
                moveAtomically(tmp, target);
            }
        } finally {
            if (Files.exists(tmp)) deleteTree(tmp);
        }
    }

    @Override
    public byte[] read(String path) throws IOException {
        return Files.readAllBytes(resolve(path));
    }

    @Override
    public InputStream open(String path) throws IOException {
        return Files.newInputStream(resolve(path));
    }

    @Override
    public boolean exists(String path) {
        return Files.exists(resolve(path));
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        Path dir = prefix == null || prefix.isEmpty() ? root : resolve(prefix);
        if (!Files.isDirectory(dir)) return List.of();
        List<String> paths = new ArrayList<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                return d.getFileName() != null && d.getFileName().toString().startsWith(TMP_PREFIX)
                        ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                if (!f.getFileName().toString().startsWith(TMP_PREFIX)) {
                    paths.add(root.relativize(f).toString().replace('\\', '/'));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        paths.sort(Comparator.naturalOrder());
        return paths;
    }

    @Override
    public void delete(String path) throws IOException {
        Path p = resolve(path);
        if (p.equals(root)) throw new IllegalArgumentException("refusing to delete the whole artifact store");
        if (Files.isDirectory(p)) deleteTree(p);
        else Files.deleteIfExists(p);
    }

    @Override
    public Optional<Path> localPath(String path) {
        return Optional.of(resolve(path));
    }

    @Override
    public String toString() {
        return "FileArtifactStore[" + uri() + "]";
    }

    /** Store paths are relative and stay inside the root: no absolute paths, no "..". */
    private Path resolve(String path) {
        if (path == null) throw new IllegalArgumentException("artifact path is null");
        String p = path.replace('\\', '/');
        if (p.startsWith("/")) throw new IllegalArgumentException("artifact path must be relative: " + path);
        for (String segment : p.split("/")) {
            if (segment.equals("..")) throw new IllegalArgumentException("artifact path must not contain '..': " + path);
        }
        Path resolved = root.resolve(p).normalize();
        if (!resolved.startsWith(root)) throw new IllegalArgumentException("artifact path leaves the store: " + path);
        return resolved;
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + to.getParent() + " cannot rename atomically", e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.deleteIfExists(p);
                } catch (NoSuchFileException ignored) {
                    // removed concurrently
                }
            }
        }
    }
}
