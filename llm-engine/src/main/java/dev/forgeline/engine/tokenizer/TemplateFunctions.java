package dev.forgeline.engine.tokenizer;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** Global functions that transformers adds to the chat-template environment. */
final class TemplateFunctions {

    /** The message of the last {@code raise_exception} on this thread; jinjava hides exceptions. */
    static final ThreadLocal<String> RAISED = new ThreadLocal<>();

    private TemplateFunctions() {}

    /** {@code raise_exception(msg)}: the template rejects its input. */
    public static String raiseException(Object message) {
        String text = String.valueOf(message);
        RAISED.set(text);
        throw new ChatTemplateException(text);
    }

    /** {@code strftime_now(format)}: the current local time in Python strftime format. */
    public static String strftimeNow(String format) {
        return LocalDateTime.now().format(DateTimeFormatter.ofPattern(javaPattern(format), Locale.ENGLISH));
    }

    static String javaPattern(String strftime) {
        StringBuilder out = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (int i = 0; i < strftime.length(); i++) {
            char c = strftime.charAt(i);
            String field = null;
            if (c == '%' && i + 1 < strftime.length()) {
                field = switch (strftime.charAt(i + 1)) {
                    case 'd' -> "dd";
                    case 'm' -> "MM";
                    case 'Y' -> "yyyy";
                    case 'y' -> "yy";
                    case 'b' -> "MMM";
                    case 'B' -> "MMMM";
                    case 'a' -> "EEE";
                    case 'A' -> "EEEE";
                    case 'H' -> "HH";
                    case 'I' -> "hh";
                    case 'M' -> "mm";
                    case 'S' -> "ss";
                    case 'p' -> "a";
                    case 'j' -> "DDD";
                    default -> null;
                };
            }
            if (field != null) {
                flushLiteral(literal, out);
                out.append(field);
                i++;
            } else if (c == '%' && i + 1 < strftime.length() && strftime.charAt(i + 1) == '%') {
                literal.append('%');
                i++;
            } else {
                literal.append(c);
            }
        }
        flushLiteral(literal, out);
        return out.toString();
    }

    private static void flushLiteral(StringBuilder literal, StringBuilder out) {
        if (literal.length() > 0) {
            out.append('\'').append(literal.toString().replace("'", "''")).append('\'');
            literal.setLength(0);
        }
    }
}
