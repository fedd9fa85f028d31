package dev.forgeline.engine.tokenizer;

/**
 * Rewrites Jinja2 template source into what jinjava renders the same way.
 *
 * <p>jinjava honours whitespace control ({@code -}) on statement tags only. Chat templates
 * use it everywhere: {@code {{- message['content'] -}}}, {@code {#- comment -#}}. This pass
 * applies the control itself (deleting the whitespace next to the tag) and leaves a plain tag.
 * It also drops the single trailing newline of the source, as Jinja2 does by default
 * ({@code keep_trailing_newline=False}); jinjava's option for it trims the output instead, which
 * differs when the template ends in a block tag.
 */
final class JinjaSource {

    private JinjaSource() {}

    static String toJinjava(String source) {
        String src = dropTrailingNewline(source);
        StringBuilder out = new StringBuilder(src.length());
        int i = 0;
        while (i < src.length()) {
            if (!src.startsWith("{", i) || i + 1 >= src.length()) {
                out.append(src.charAt(i++));
                continue;
            }
            char kind = src.charAt(i + 1);
            if (kind == '{' || kind == '#') {
                i = rewriteTag(src, i, kind == '{' ? "}}" : "#}", out);
            } else if (kind == '%') {
                i = copyStatement(src, i, out);
            } else {
                out.append(src.charAt(i++));
            }
        }
        return out.toString();
    }

    private static String dropTrailingNewline(String s) {
        if (s.endsWith("\r\n")) {
            return s.substring(0, s.length() - 2);
        }
        if (s.endsWith("\n") || s.endsWith("\r")) {
            return s.substring(0, s.length() - 1);
        }
        return s;
    }

    /** Copies an expression or comment tag starting at {@code start}, applying its {@code -} marks. */
    private static int rewriteTag(String src, int start, String close, StringBuilder out) {
        String open = src.substring(start, start + 2);
        int i = start + 2;
        if (src.startsWith("-", i)) {
            stripTrailingWhitespace(out);
            i++;
        } else if (src.startsWith("+", i)) {
            i++;
        }
        boolean comment = open.equals("{#");
        int end = comment ? src.indexOf(close, i) : findClose(src, i, close);
        if (end < 0) { // unterminated: leave it for jinjava to report
            out.append(src, start, src.length());
            return src.length();
        }
        boolean trimAfter = end > i && src.charAt(end - 1) == '-';
        out.append(open).append(src, i, trimAfter ? end - 1 : end).append(close);
        int next = end + close.length();
        if (trimAfter) {
            while (next < src.length() && Character.isWhitespace(src.charAt(next))) {
                next++;
            }
        }
        return next;
    }

    /** Copies a statement tag verbatim (jinjava handles its {@code -}), and a raw block whole. */
    private static int copyStatement(String src, int start, StringBuilder out) {
        int end = findClose(src, start + 2, "%}");
        if (end < 0) {
            out.append(src, start, src.length());
            return src.length();
        }
        int next = end + 2;
        String body = src.substring(start + 2, end).replace("-", "").replace("+", "").trim();
        if (body.equals("raw")) {
            int endRaw = src.indexOf("endraw", next);
            int close = endRaw < 0 ? -1 : src.indexOf("%}", endRaw);
            next = close < 0 ? src.length() : close + 2;
        }
        out.append(src, start, next);
        return next;
    }

    /** Position of {@code close} after {@code from}, skipping quoted strings. */
    private static int findClose(String src, int from, String close) {
        char quote = 0;
        for (int i = from; i < src.length(); i++) {
            char c = src.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (src.startsWith(close, i)) {
                return i;
            }
        }
        return -1;
    }

    private static void stripTrailingWhitespace(StringBuilder out) {
        int n = out.length();
        while (n > 0 && Character.isWhitespace(out.charAt(n - 1))) {
            n--;
        }
        out.setLength(n);
    }
}
