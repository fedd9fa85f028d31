package dev.forgeline.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** Columns aligned as kubectl prints them: upper-case headers, two spaces between columns. */
final class TextTable {
    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;]*m");
    private final List<String[]> rows = new ArrayList<>();

    TextTable(String... headers) {
        rows.add(headers);
    }

    TextTable row(Object... cells) {
        String[] r = new String[cells.length];
        for (int i = 0; i < cells.length; i++) r[i] = cells[i] == null ? "-" : String.valueOf(cells[i]);
        rows.add(r);
        return this;
    }

    boolean isEmpty() {
        return rows.size() == 1;
    }

    void print(PrintWriter out) {
        int columns = rows.get(0).length;
        int[] widths = new int[columns];
        for (String[] r : rows) {
            for (int i = 0; i < columns; i++) widths[i] = Math.max(widths[i], visible(r[i]));
        }
        for (String[] r : rows) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < columns; i++) {
                sb.append(r[i]);
                if (i < columns - 1) sb.append(" ".repeat(widths[i] - visible(r[i]) + 2));
            }
            out.println(sb.toString().stripTrailing());
        }
        out.flush();
    }

    private static int visible(String s) {
        return ANSI.matcher(s).replaceAll("").length();
    }
}
