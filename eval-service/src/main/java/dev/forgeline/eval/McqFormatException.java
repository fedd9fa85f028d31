package dev.forgeline.eval;

import java.nio.file.Path;

/** A malformed row of a multiple-choice set, named by file and the 1-based line where the row starts. */
public class McqFormatException extends IllegalArgumentException {
    public McqFormatException(Path file, int line, String message) {
        super(file.getFileName() + " line " + line + ": " + message);
    }
}
