package dev.forgeline.engine.train;

/** A training dataset that cannot be used: missing, empty or malformed (with file and line). */
public final class DatasetException extends RuntimeException {

    public DatasetException(String message) {
        super(message);
    }

    public DatasetException(String message, Throwable cause) {
        super(message, cause);
    }
}
