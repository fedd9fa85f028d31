package dev.forgeline.datagen.teacher;

import java.time.Duration;
import java.util.Optional;

/** A failed teacher call: its HTTP status (0 when none came back) and whether trying again may help. */
public class TeacherException extends RuntimeException {
    private final int status;
    private final boolean retryable;
    private final Duration retryAfter;

    public TeacherException(String message, int status, boolean retryable, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.retryable = retryable;
        this.retryAfter = retryAfter;
    }

    /** Rate limits, server errors (but 501), timeouts and refused connections pass; a bad request or key does not. */
    static boolean retryableStatus(int status) {
        return status == 0 || status == 408 || status == 429 || status >= 500 && status != 501;
    }

    public int status() {
        return status;
    }

    public boolean retryable() {
        return retryable;
    }

    /** The wait the server asked for with {@code Retry-After}. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}
