package dev.forgeline.engine.hub;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model on the Hugging Face Hub: {@code org/name}, optionally pinned with {@code @revision}
 * (a branch, a tag or a commit hash; default {@code main}).
 */
public record HubModelId(String repo, String revision) {

    public static final String DEFAULT_REVISION = "main";
    // The Hub's repo-name rule: letters, digits, '-', '_', '.'; no leading or trailing '-' or '.'.
    private static final String NAME = "[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?";
    private static final Pattern ID = Pattern.compile("(" + NAME + "/" + NAME + ")(?:@([^\\s@]+))?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    public HubModelId {
        if (!ID.matcher(repo).matches() || repo.contains("--") || repo.contains("..")) {
            throw new IllegalArgumentException("not a Hugging Face repo id (org/name): " + repo);
        }
        if (revision == null || revision.isBlank()) {
            revision = DEFAULT_REVISION;
        }
    }

    /** Parses {@code org/name} or {@code org/name@revision}; empty when the text is not one. */
    public static Optional<HubModelId> parse(String text) {
        Matcher m = ID.matcher(text.strip());
        if (!m.matches() || m.group(1).contains("--") || m.group(1).contains("..")) {
            return Optional.empty();
        }
        return Optional.of(new HubModelId(m.group(1), m.group(2)));
    }

    /** Whether the revision is a full commit hash (then the cache needs no ref lookup). */
    public boolean pinnedToCommit() {
        return COMMIT.matcher(revision).matches();
    }

    /** The cache folder name, as huggingface_hub spells it: {@code models--org--name}. */
    public String cacheFolderName() {
        return "models--" + repo.replace("/", "--");
    }

    @Override
    public String toString() {
        return repo + "@" + revision;
    }
}
