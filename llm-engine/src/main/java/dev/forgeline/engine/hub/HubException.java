package dev.forgeline.engine.hub;

import java.io.IOException;

/** A model could not be fetched from the Hub or served from its cache; {@link #reason()} says why. */
public class HubException extends IOException {

    /** What went wrong, for callers that map failures to statuses. */
    public enum Reason {
        /** HTTP 401/403: gated or private model, missing or refused token. */
        ACCESS_DENIED,
        /** HTTP 404: no such model, revision or file. */
        NOT_FOUND,
        /** Offline mode and the model is not (completely) in the cache. */
        NOT_CACHED,
        /** A downloaded file does not match its size or checksum. */
        CORRUPT,
        /** Any other failure of the server or the connection. */
        SERVER
    }

    private final Reason reason;

    public HubException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public HubException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
