package dev.forgeline.cli;

/** Exit codes a shell can rely on; the same for every command. */
final class Exit {
    private Exit() {}

    static final int OK = 0;
    /** The job failed, was cancelled, or its model was rejected by the gate. */
    static final int FAILED = 1;
    /** Bad usage, or a request that does not validate. */
    static final int USAGE = 2;
    /** Kafka or the gateway cannot be reached. */
    static final int UNREACHABLE = 3;
    static final int NOT_FOUND = 4;
    static final int INTERRUPTED = 130;
}
