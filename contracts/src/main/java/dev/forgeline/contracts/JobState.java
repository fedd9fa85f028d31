package dev.forgeline.contracts;

/** Where a job is. A job moves forward only: QUEUED, RUNNING, then one terminal state. */
public enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public boolean isTerminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
