package dev.forgeline.gateway.finetune;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.FilesProtocol;
import dev.forgeline.gateway.protocol.FilesProtocol.FileList;
import dev.forgeline.gateway.protocol.FilesProtocol.FileObject;
import dev.forgeline.jobs.ArtifactStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Files uploaded for fine-tuning, kept in the shared artifact store as
 * {@code files/{id}/content.jsonl} and {@code files/{id}/file.json}, so every gateway replica
 * answers the same. The content is written first: a file.json that exists always has its content.
 */
@ApplicationScoped
public class TrainingFiles {
    static final String DIR = "files/";
    static final Pattern ID = Pattern.compile("file-[A-Za-z0-9]{1,64}");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    @Inject
    ArtifactStore store;

    /** Checks and stores an upload; the file part's name is kept only as the file's label. */
    public FileObject upload(String filename, String purpose, byte[] content) {
        if (purpose == null) {
            throw ApiError.invalid("purpose", "'purpose' is required");
        }
        if (!purpose.equals(FilesProtocol.FINE_TUNE)) {
            throw ApiError.invalid("purpose", "'" + purpose + "' is not a supported purpose: this gateway keeps"
                    + " files for fine-tuning only ('" + FilesProtocol.FINE_TUNE + "')");
        }
        TrainingFileCheck.examples(content);
        String id = "file-" + randomId(24);
        FileObject file = FileObject.processed(id, content.length, Instant.now().getEpochSecond(), label(filename));
        try {
            store.write(DIR + id + "/content.jsonl", content);
            store.write(DIR + id + "/file.json", JSON.writeValueAsBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    public Optional<FileObject> find(String id) {
        if (!ID.matcher(id).matches() || !store.exists(DIR + id + "/file.json")) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(store.read(DIR + id + "/file.json"), FileObject.class));
        } catch (IOException e) {
            return Optional.empty(); // deleted between the two reads
        }
    }

    public FileObject get(String id) {
        return find(id).orElseThrow(() -> notFound(id));
    }

    public byte[] content(String id) {
        get(id);
        try {
            return store.read(DIR + id + "/content.jsonl");
        } catch (IOException e) {
            throw notFound(id);
        }
    }

    /** Newest first (OpenAI's default order), or oldest first with {@code order=asc}; {@code after} is a file id. */
    public FileList list(String purpose, String after, int limit, boolean ascending) {
        List<FileObject> all = new ArrayList<>();
        try {
            for (String path : store.list(DIR)) {
                if (path.endsWith("/file.json")) {
                    find(path.substring(DIR.length(), path.length() - "/file.json".length())).ifPresent(all::add);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Comparator<FileObject> order = Comparator.comparingLong(FileObject::created_at).thenComparing(FileObject::id);
        all.sort(ascending ? order : order.reversed());
        List<FileObject> matching = all.stream().filter(f -> purpose == null || purpose.equals(f.purpose())).toList();
        int from = 0;
        if (after != null) {
            from = indexOf(matching, after) + 1;
        }
        List<FileObject> page = matching.subList(Math.min(from, matching.size()), Math.min(from + limit, matching.size()));
        return FileList.of(List.copyOf(page), from + limit < matching.size());
    }

    public void delete(String id) {
        get(id);
        try {
            store.delete(DIR + id + "/file.json");
            store.delete(DIR + id);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int indexOf(List<FileObject> files, String id) {
        for (int i = 0; i < files.size(); i++) {
            if (files.get(i).id().equals(id)) {
                return i;
            }
        }
        throw ApiError.invalid("after", "No such file: '" + id + "'");
    }

    static ApiError notFound(String id) {
        return new ApiError(404, "invalid_request_error", "No such File object: " + id, "id", "file_not_found", null);
    }

    /** A file name as a label: no path, no control characters, at most 255 characters. */
    static String label(String filename) {
        String name = filename == null ? "" : filename.replace('\\', '/');
        name = name.substring(name.lastIndexOf('/') + 1).replaceAll("\\p{Cntrl}", "");
        name = name.length() > 255 ? name.substring(0, 255) : name;
        return name.isBlank() ? "file.jsonl" : name;
    }

    static String randomId(int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        }
        return sb.toString();
    }
}
