package dev.forgeline.cli;

import picocli.CommandLine.Help.Ansi;

import java.time.Duration;
import java.util.List;

/**
 * How the CLI writes for people: colour only on a terminal (picocli's rule: a console, not
 * {@code TERM=dumb}, no {@code NO_COLOR}), durations as {@code 1m05s}, and a loss sparkline.
 */
final class Style {
    private Style() {}

    static final boolean TERMINAL = System.console() != null;

    /** picocli markup, e.g. {@code @|bold,green SUCCEEDED|@}; plain text when colour is off. */
    static String color(String markup) {
        return Ansi.AUTO.string(markup);
    }

    static String state(String state) {
        String style = switch (state) {
            case "SUCCEEDED", "approved", "passed" -> "bold,green";
            case "FAILED", "CANCELLED", "rejected", "failed" -> "bold,red";
            case "RUNNING" -> "bold,cyan";
            default -> "yellow";
        };
        return color("@|" + style + " " + state + "|@");
    }

    static String duration(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) return s + "s";
        if (s < 3600) return String.format("%dm%02ds", s / 60, s % 60);
        if (s < 86_400) return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
        return (s / 86_400) + "d" + (s % 86_400) / 3600 + "h";
    }

    private static final char[] BARS = "▁▂▃▄▅▆▇█".toCharArray();

    /** The last {@code width} values as block characters, lowest to highest. */
    static String sparkline(List<Double> values, int width) {
        List<Double> tail = values.subList(Math.max(0, values.size() - width), values.size());
        double min = tail.stream().mapToDouble(Double::doubleValue).min().orElse(0);
        double max = tail.stream().mapToDouble(Double::doubleValue).max().orElse(0);
        StringBuilder sb = new StringBuilder();
        for (double v : tail) {
            int level = max > min ? (int) Math.round((v - min) / (max - min) * (BARS.length - 1)) : BARS.length / 2;
            sb.append(BARS[level]);
        }
        return sb.toString();
    }

    /** {@code [██████░░░░]} for a fraction in 0..1. */
    static String bar(double fraction, int width) {
        int full = (int) Math.round(Math.max(0, Math.min(1, fraction)) * width);
        return "[" + "█".repeat(full) + "░".repeat(width - full) + "]";
    }
}
