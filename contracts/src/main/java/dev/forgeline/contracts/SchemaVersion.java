package dev.forgeline.contracts;

/**
 * The version of every Forgeline message. Readers ignore fields they do not know, so adding an
 * optional field does not change the version; renaming or removing one does.
 */
public final class SchemaVersion {
    private SchemaVersion() {}

    public static final int CURRENT = 1;

    /** A message that omits its version (read as 0) is read as the current one. */
    static int orCurrent(int version) {
        return version == 0 ? CURRENT : version;
    }
}
