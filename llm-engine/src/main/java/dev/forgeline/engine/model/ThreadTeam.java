package dev.forgeline.engine.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The calling thread and {@code size - 1} workers, which run the parts of one task at a time:
 * {@code run(task)} calls {@code task.accept(p)} for each part p in [0, size), part 0 on the
 * caller, and returns when all are done. An idle worker spins 200 us, then parks: a decode step's
 * tasks come microseconds apart, and waking a parked thread costs tens of them. Not thread-safe:
 * one caller at a time.
 *
 * <p>Parts past 0 go to whichever thread claims them first, the caller included once its own part
 * is done: on a shared machine a worker that has lost its core would otherwise hold up every task
 * until the scheduler runs it again.
 */
final class ThreadTeam implements AutoCloseable {

    private static final long SPIN_NANOS = 200_000;

    private final Worker[] workers; // worker t runs part t + 1
    private final AtomicInteger done = new AtomicInteger(); // parts of the task at hand finished
    private final AtomicLong claims = new AtomicLong(); // the task's generation (high half) and its next unclaimed part
    private volatile int generation; // bumped per task; the write publishes the task
    private volatile boolean closed;
    private volatile Throwable failure;
    private IntConsumer task;

    ThreadTeam(int size) {
        workers = new Worker[Math.max(0, size - 1)];
        for (int t = 0; t < workers.length; t++) {
            workers[t] = new Worker(t + 1);
            workers[t].thread.start();
        }
    }

    /** Parts a task is split into: the caller and the workers. */
    int size() {
        return workers.length + 1;
    }

    /** Runs {@code task.accept(p)} for every part p; a part's failure is rethrown here, wrapped, once all are done. */
    void run(IntConsumer task) {
        if (closed) {
            throw new IllegalStateException("closed"); // its workers are gone
        }
        this.task = task;
        done.set(0);
        claims.set((long) (generation + 1) << 32 | 1);
        generation++;
        for (Worker worker : workers) {
            if (worker.parked) {
                LockSupport.unpark(worker.thread);
            }
        }
        int gen = generation;
        try {
            runPart(task, 0);
            for (int p = claim(gen); p >= 0; p = claim(gen)) {
                runPart(task, p);
            }
        } finally { // the workers use what the task refers to until they are done
            long since = System.nanoTime();
            while (done.get() != size()) {
                if (System.nanoTime() - since < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield(); // a worker lost its core: let it have this one
                }
            }
        }
        Throwable t = failure;
        if (t != null) {
            failure = null;
            throw new IllegalStateException("a part of the task failed", t);
        }
    }

    /** The next unclaimed part of task {@code gen}, now claimed, or -1 when none is left. */
    private int claim(int gen) {
        while (true) {
            long c = claims.get();
            int part = (int) c;
            if ((int) (c >>> 32) != gen || part >= size()) {
                return -1;
            }
            if (claims.compareAndSet(c, c + 1)) {
                return part;
            }
        }
    }

    private void runPart(IntConsumer task, int part) {
        try {
            task.accept(part);
        } catch (Throwable t) {
            failure = t;
        } finally {
            done.incrementAndGet();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker worker : workers) {
            LockSupport.unpark(worker.thread);
        }
    }

    private final class Worker implements Runnable {
        final Thread thread;
        final int part;
        volatile boolean parked;

        Worker(int part) {
            this.part = part;
            this.thread = new Thread(this, "forge-team-" + part);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            int seen = 0; // not generation: the first task may be published before this thread runs
            while (true) {
                long since = System.nanoTime();
                while (generation == seen && !closed) {
                    if (System.nanoTime() - since < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        // Either the caller's bump of generation is seen here, or the caller sees parked and unparks.
                        parked = true;
                        if (generation == seen && !closed) {
                            LockSupport.park(this);
                        }
                        parked = false;
                    }
                }
                if (closed) {
                    return;
                }
                seen = generation;
                for (int p = claim(seen); p >= 0; p = claim(seen)) {
                    runPart(task, p); // task is the one of generation seen: it cannot finish before this part
                }
            }
        }
    }
}
