package dev.forgeline.gateway.engine;

import dev.forgeline.gateway.engine.ModelRunner.DecodeBatch;
import dev.forgeline.gateway.engine.ModelRunner.Params;
import dev.forgeline.gateway.engine.ModelRunner.Sink;
import dev.forgeline.gateway.engine.ModelRunner.Slot;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Continuous batching for one loaded model, on one thread: between two decode steps it drops
 * the sequences whose clients went away, admits waiting ones (prefill, up to a token budget per
 * step so that a burst of long prompts cannot stall the running streams), then decodes one token
 * for every running sequence at once. The waiting queue is bounded; {@link #submit} refuses
 * beyond it, which the API turns into 429 rather than growing memory.
 */
public final class BatchScheduler implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(BatchScheduler.class);

    /** A submitted sequence; {@link #cancel()} frees its row at the next step. */
    public static final class Ticket {
        final int[] prompt;
        final Params params;
        final Sink sink;
        volatile boolean cancelled;
        Slot slot;

        Ticket(int[] prompt, Params params, Sink sink) {
            this.prompt = prompt;
            this.params = params;
            this.sink = sink;
        }

        public void cancel() {
            cancelled = true;
        }
    }

    /** The waiting queue is full. */
    public static final class QueueFull extends RuntimeException {
        QueueFull() {
            super("waiting queue full", null, false, false);
        }
    }

    private final String name;
    private final ModelRunner runner;
    private final int capacity;
    private final int prefillTokensPerStep;
    private final LinkedBlockingDeque<Ticket> waiting;
    private final List<Ticket> running = new ArrayList<>();
    private final AtomicInteger runningCount = new AtomicInteger();
    private final Thread thread;
    private volatile boolean closed;
    private volatile long lastUsedNanos = System.nanoTime();

    public BatchScheduler(String name, ModelRunner runner, int capacity, int maxWaiting, int prefillTokensPerStep) {
        this.name = name;
        this.runner = runner;
        this.capacity = capacity;
        this.prefillTokensPerStep = prefillTokensPerStep;
        this.waiting = new LinkedBlockingDeque<>(Math.max(1, maxWaiting));
        this.thread = new Thread(this::run, "scheduler-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Queues a sequence; throws {@link QueueFull} when the waiting queue is at its bound. */
    public Ticket submit(int[] prompt, Params params, Sink sink) {
        if (closed) {
            throw new IllegalStateException("model " + name + " was unloaded");
        }
        Ticket t = new Ticket(prompt, params, sink);
        lastUsedNanos = System.nanoTime();
        if (!waiting.offerLast(t)) {
            throw new QueueFull();
        }
        return t;
    }

    /** Sequences decoding now. */
    public int running() {
        return runningCount.get();
    }

    /** Sequences queued for a row. */
    public int waiting() {
        return waiting.size();
    }

    public boolean idle() {
        return running() == 0 && waiting.isEmpty();
    }

    public long lastUsedNanos() {
        return lastUsedNanos;
    }

    public ModelRunner runner() {
        return runner;
    }

    private void run() {
        DecodeBatch batch = runner.newBatch(capacity);
        try {
            while (!closed) {
                try {
                    dropCancelled(batch);
                    admit(batch);
                    if (batch.active() == 0) {
                        Ticket next = waiting.pollFirst(100, TimeUnit.MILLISECONDS);
                        if (next != null) {
                            waiting.putFirst(next);
                        }
                        continue;
                    }
                    batch.step();
                    retireFinished();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (RuntimeException e) {
                    // A failed step leaves the batch in an unknown state: fail its sequences, start afresh.
                    LOG.errorf(e, "decode step failed for model %s", name);
                    for (Ticket t : running) {
                        t.sink.onError(e);
                    }
                    running.clear();
                    runningCount.set(0);
                    batch.close();
                    batch = runner.newBatch(capacity);
                }
            }
        } finally {
            batch.close();
            for (Ticket t : running) {
                t.sink.onError(new IllegalStateException("model " + name + " was unloaded"));
            }
            Ticket t;
            while ((t = waiting.pollFirst()) != null) {
                t.sink.onError(new IllegalStateException("model " + name + " was unloaded"));
            }
        }
    }

    private void dropCancelled(DecodeBatch batch) {
        for (Iterator<Ticket> it = running.iterator(); it.hasNext();) {
            Ticket t = it.next();
            if (t.cancelled) {
                batch.remove(t.slot);
                it.remove();
            }
        }
        runningCount.set(running.size());
    }

    private void admit(DecodeBatch batch) {
        int budget = prefillTokensPerStep;
        while (batch.hasRoom() && budget > 0) {
            Ticket t = waiting.pollFirst();
            if (t == null) {
                break;
            }
            if (t.cancelled) {
                continue;
            }
            budget -= t.prompt.length;
            try {
                t.slot = batch.add(t.prompt, t.params, t.sink);
            } catch (RuntimeException e) {
                t.sink.onError(e);
                continue;
            }
            if (!t.slot.isFinished()) {
                running.add(t);
            }
            runningCount.set(running.size());
        }
        lastUsedNanos = System.nanoTime();
    }

    private void retireFinished() {
        running.removeIf(t -> t.slot.isFinished());
        runningCount.set(running.size());
    }

    /** Stops the thread; queued and running sequences get an error. */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
