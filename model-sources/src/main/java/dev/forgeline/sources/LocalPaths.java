package dev.forgeline.sources;

import java.net.URI;
import java.nio.file.Path;
import java.util.regex.Pattern;

/** How requests name local files: {@code file:} URIs, and the ids that become artifact-store folder names. */
public final class LocalPaths {
    /**
     * Ids become one folder name in the store: no separators, no "..", nothing a shell would trip on.
     * ':' is allowed after the first character because OpenAI's fine-tuned model ids are
     * {@code ft:{base}:{suffix}:{job}} (POSIX file names may hold it; a leading letter keeps
     * {@code file:} and other URI schemes from being read as ids: they are tried first anyway).
     */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,199}");

    private LocalPaths() {}

    public static boolean isId(String s) {
        return ID.matcher(s).matches() && !s.contains("..");
    }

    /** {@code file:/abs/dir} or {@code file:///abs/dir} as a path; anything else fails naming {@code field}. */
    public static Path fromFileUri(String uri, String field) {
        try {
            return Path.of(URI.create(uri));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + " '" + uri + "' is not a valid file: URI (use file:/absolute/path): "
                    + e.getMessage(), e);
        }
    }
}
