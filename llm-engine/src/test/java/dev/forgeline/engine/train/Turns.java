package dev.forgeline.engine.train;

import java.util.concurrent.Semaphore;

/**
 * Two benchmark runs on two threads that take turns a step at a time, so that both see the same
 * stretch of a shared host's load; party 0 goes first. A party that finishes (or fails) lets the
 * other go on alone.
 */
final class Turns {
    private final Semaphore[] go = {new Semaphore(0), new Semaphore(0)};
    private final boolean[] finished = new boolean[2];

    Party party(int index) {
        return new Party(index);
    }

    final class Party {
        private final int me;

        private Party(int me) {
            this.me = me;
        }

        /** Waits for this party's first turn. */
        void begin() {
            if (me == 1) {
                waitForTurn();
            }
        }

        /** Lets the other party run its step, and waits until it passes back or finishes. */
        void pass() {
            go[1 - me].release();
            waitForTurn();
        }

        /** This party has no more steps: the other goes on without waiting. */
        void finish() {
            synchronized (Turns.this) {
                finished[me] = true;
            }
            go[1 - me].release();
        }

        private void waitForTurn() {
            synchronized (Turns.this) {
                if (finished[1 - me]) {
                    return;
                }
            }
            go[me].acquireUninterruptibly();
        }
    }
}
