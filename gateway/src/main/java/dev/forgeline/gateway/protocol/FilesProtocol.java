package dev.forgeline.gateway.protocol;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The shapes of OpenAI's Files API ({@code /v1/files}), field names exactly as OpenAI's. Only
 * {@code purpose: "fine-tune"} is accepted: the gateway keeps files for fine-tuning jobs, nothing else.
 */
public final class FilesProtocol {
    private FilesProtocol() {}

    public static final String FINE_TUNE = "fine-tune";

    /**
     * A stored file. {@code status} is always {@code processed}: a file is checked line by line
     * before it is stored, so there is no later processing step that could fail.
     */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record FileObject(String id, String object, long bytes, long created_at, String filename, String purpose,
            String status, Long expires_at, String status_details) {
        public static FileObject processed(String id, long bytes, long createdAt, String filename) {
            return new FileObject(id, "file", bytes, createdAt, filename, FINE_TUNE, "processed", null, null);
        }
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FileList(String object, List<FileObject> data, boolean has_more, String first_id, String last_id) {
        public static FileList of(List<FileObject> data, boolean hasMore) {
            return new FileList("list", data, hasMore, data.isEmpty() ? null : data.get(0).id(),
                    data.isEmpty() ? null : data.get(data.size() - 1).id());
        }
    }

    public record FileDeleted(String id, String object, boolean deleted) {
        public static FileDeleted of(String id) {
            return new FileDeleted(id, "file", true);
        }
    }
}
