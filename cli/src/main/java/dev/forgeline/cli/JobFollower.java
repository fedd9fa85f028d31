package dev.forgeline.cli;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.jobs.PlatformView;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Follows one job to its end: its events as they arrive and, on a terminal, a progress bar redrawn
 * in place (step, loss with a sparkline, tokens/s, ETA). Without a terminal it prints a line per
 * event, progress at most every {@link #PLAIN_PROGRESS_EVERY}; with {@code json} one JSON object per
 * event and the final status, for scripts.
 */
final class JobFollower {
    enum Mode { LIVE, PLAIN, JSON }

    private static final Duration PLAIN_PROGRESS_EVERY = Duration.ofSeconds(5);
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

    private final PlatformView view;
    private final PrintWriter out;
    private final Mode mode;
    private final boolean results;
    private final BlockingQueue<Object> arrivals = new LinkedBlockingQueue<>();
    private volatile String following;

    /** @param results print what the job made (its result) when it ends */
    JobFollower(PlatformView view, PrintWriter out, Mode mode, boolean results) {
        this.view = view;
        this.out = out;
        this.mode = mode;
        this.results = results;
        view.onEvent(e -> {
            if (e.jobId().equals(following)) arrivals.add(e);
        });
        view.onStatus(s -> {
            if (s.jobId().equals(following)) arrivals.add(s);
        });
    }

    static Mode mode(boolean json) {
        return json ? Mode.JSON : Style.TERMINAL ? Mode.LIVE : Mode.PLAIN;
    }

    /**
     * Until the job ends; its final status. A job not on {@code forge.jobs} yet (its request not
     * picked up) is waited for up to {@code waitForStart}, then {@link Exit#NOT_FOUND}.
     */
    JobStatus follow(String jobId, Duration waitForStart) throws InterruptedException {
        arrivals.clear();
        following = jobId;
        try {
            return run(jobId, waitForStart);
        } finally {
            following = null;
            if (mode == Mode.LIVE) clearBar();
        }
    }

    private JobStatus run(String jobId, Duration waitForStart) throws InterruptedException {
        Set<String> seen = new HashSet<>();
        List<Double> losses = new ArrayList<>();
        for (JobEvent e : view.events(jobId)) {
            seen.add(key(e));
            show(e, losses, true);
        }
        JobStatus status = view.job(jobId).orElse(null);
        long deadline = System.nanoTime() + waitForStart.toNanos();
        boolean said = false;
        Instant lastPlain = Instant.EPOCH;
        JobEvent lastProgress = null;
        while (true) {
            if (status != null && status.state().isTerminal()) {
                return end(status);
            }
            Object next = arrivals.poll(1, TimeUnit.SECONDS);
            if (next instanceof JobStatus s) {
                status = s;
            } else if (next instanceof JobEvent e && seen.add(key(e))) {
                if (JobEvent.PROGRESS.equals(e.type())) {
                    lastProgress = e;
                    Object loss = e.data().get("loss");
                    if (loss instanceof Number n) losses.add(n.doubleValue());
                    if (mode == Mode.PLAIN && Duration.between(lastPlain, Instant.now()).compareTo(PLAIN_PROGRESS_EVERY) < 0) {
                        continue;
                    }
                    lastPlain = Instant.now();
                }
                show(e, losses, false);
            } else if (next == null && status == null) {
                status = view.job(jobId).orElse(null);
                if (status == null && !said && mode != Mode.JSON) {
                    line("waiting for " + jobId + " to be picked up");
                    said = true;
                }
                if (status == null && System.nanoTime() > deadline) {
                    throw new CliException(Exit.NOT_FOUND, "no job " + jobId + " on forge.jobs");
                }
            }
            if (mode == Mode.LIVE && lastProgress != null) drawBar(status, lastProgress, losses);
        }
    }

    private JobStatus end(JobStatus s) {
        if (mode == Mode.JSON) {
            out.println(ContractsJson.write(s));
        } else {
            if (mode == Mode.LIVE) clearBar();
            String took = s.createdAt() != null && s.updatedAt() != null
                    ? " in " + Style.duration(Duration.between(s.createdAt(), s.updatedAt())) : "";
            StringBuilder sb = new StringBuilder(s.kind() + " " + s.jobId() + " " + Style.state(s.state().name()) + took);
            if (s.error() != null) sb.append(": ").append(s.error());
            if (results && !s.result().isEmpty()) sb.append("\n  ").append(summary(s.result()));
            out.println(sb);
        }
        out.flush();
        return s;
    }

    private void show(JobEvent e, List<Double> losses, boolean replay) {
        if (mode == Mode.JSON) {
            out.println(ContractsJson.write(e));
            out.flush();
            return;
        }
        if (JobEvent.PROGRESS.equals(e.type())) {
            if (replay) {
                Object loss = e.data().get("loss");
                if (loss instanceof Number n) losses.add(n.doubleValue());
                return; // history: the bar shows where it got to
            }
            if (mode == Mode.PLAIN) line(CLOCK.format(e.timestamp()) + "  " + progressText(null, e, losses));
            return;
        }
        line(CLOCK.format(e.timestamp()) + "  " + describe(e));
    }

    static String describe(JobEvent e) {
        Map<String, Object> d = e.data();
        return switch (e.type()) {
            case JobEvent.STATE -> "state " + Style.state(String.valueOf(d.get("state")))
                    + (d.containsKey("attempt") ? " (attempt " + d.get("attempt") + ")" : "")
                    + (d.containsKey("error") ? ": " + d.get("error") : "");
            case JobEvent.CHECKPOINT -> "checkpoint " + d.get("marker");
            case "eval" -> d.containsKey("held_out_loss")
                    ? String.format("held-out loss %.4f at step %s", ((Number) d.get("held_out_loss")).doubleValue(), d.get("step"))
                    : "eval " + summary(d);
            case JobEvent.LOG -> String.valueOf(d.getOrDefault("message", summary(d)));
            default -> e.type() + " " + summary(d);
        };
    }

    /** One line of what a progress event says, by the kind of job that sent it. */
    static String progressText(JobStatus status, JobEvent e, List<Double> losses) {
        Map<String, Object> d = e.data();
        double fraction = d.get("progress") instanceof Number n ? n.doubleValue() : status != null ? status.progress() : 0;
        StringBuilder sb = new StringBuilder(Style.bar(fraction, 24)).append(String.format(" %3d%%", Math.round(fraction * 100)));
        if (d.containsKey("step")) sb.append("  step ").append(d.get("step")).append('/').append(d.getOrDefault("total_steps", "?"));
        if (d.get("loss") instanceof Number loss) {
            sb.append(String.format("  loss %.4f", loss.doubleValue()));
            if (losses.size() > 1) sb.append(' ').append(Style.sparkline(losses, 20));
        }
        if (d.get("tokens_per_s") instanceof Number t) sb.append(String.format("  %.0f tok/s", t.doubleValue()));
        if (d.containsKey("examples_kept")) sb.append("  examples ").append(d.get("examples_kept"));
        if (d.containsKey("items_done")) sb.append("  items ").append(d.get("items_done")).append('/').append(d.get("items_total"));
        if (d.get("eta_s") instanceof Number eta) sb.append("  ETA ").append(Style.duration(Duration.ofSeconds(eta.longValue())));
        return sb.toString();
    }

    private void drawBar(JobStatus status, JobEvent progress, List<Double> losses) {
        out.print("\r\u001B[2K" + progressText(status, progress, losses));
        out.flush();
    }

    private void clearBar() {
        out.print("\r\u001B[2K");
        out.flush();
    }

    private void line(String text) {
        if (mode == Mode.LIVE) clearBar();
        out.println(text);
        out.flush();
    }

    static String summary(Map<String, Object> values) {
        return values.entrySet().stream().map(en -> en.getKey() + "=" + format(en.getValue())).collect(Collectors.joining(" "));
    }

    static String format(Object v) {
        if (v instanceof Double d) return Math.abs(d) >= 1e-3 && Math.abs(d) < 1e5 ? String.format("%.4f", d) : String.valueOf(d);
        return String.valueOf(v);
    }

    private static String key(JobEvent e) {
        return e.attempt() + ":" + e.seq();
    }
}
