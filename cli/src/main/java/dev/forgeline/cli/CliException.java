package dev.forgeline.cli;

/** Ends a command with one line on stderr and the given {@link Exit} code. */
final class CliException extends RuntimeException {
    final int code;

    CliException(int code, String message) {
        super(message);
        this.code = code;
    }
}
