package dev.forgeline.engine.tokenizer;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Python {@code str} methods for jinjava, whose strings are Java strings: chat templates call
 * {@code content.strip()}, {@code role.startswith('sys')}, {@code text.split('\n')}. Placed before
 * jinjava's own resolver, it answers only method calls on strings whose names it knows.
 */
final class PythonStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
        if (!(base instanceof String s) || method == null) {
            return null;
        }
        Object[] args = params == null ? new Object[0] : params;
        Object result = call(s, method.toString(), args);
        if (result != null) {
            context.setPropertyResolved(true);
        }
        return result;
    }

    private static Object call(String s, String name, Object[] args) {
        switch (name) {
            case "strip":
                return rstrip(lstrip(s, arg(args, 0)), arg(args, 0));
            case "lstrip":
                return lstrip(s, arg(args, 0));
            case "rstrip":
                return rstrip(s, arg(args, 0));
            case "startswith":
                return matchesAny(args, p -> s.startsWith(p));
            case "endswith":
                return matchesAny(args, p -> s.endsWith(p));
            case "upper":
                return s.toUpperCase(Locale.ROOT);
            case "lower":
                return s.toLowerCase(Locale.ROOT);
            case "capitalize":
                return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "title":
                return title(s);
            case "split":
                return split(s, arg(args, 0), args.length > 1 ? ((Number) args[1]).intValue() : -1);
            case "splitlines":
                return splitLines(s);
            case "replace":
                return args.length >= 2 ? s.replace(String.valueOf(args[0]), String.valueOf(args[1])) : null;
            case "find":
                return args.length >= 1 ? (Object) s.indexOf(String.valueOf(args[0])) : null;
            case "count":
                return args.length >= 1 ? (Object) count(s, String.valueOf(args[0])) : null;
            case "join":
                return args.length >= 1 ? join(s, args[0]) : null;
            case "isspace":
                return !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            case "isdigit":
                return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            default:
                return null;
        }
    }

    private static String arg(Object[] args, int i) {
        return i < args.length && args[i] != null ? args[i].toString() : null;
    }

    private static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && stripped(s.charAt(i), chars)) {
            i++;
        }
        return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
        int n = s.length();
        while (n > 0 && stripped(s.charAt(n - 1), chars)) {
            n--;
        }
        return s.substring(0, n);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    private interface StringTest {
        boolean test(String prefix);
    }

    /** {@code startswith} takes a string or a tuple of strings. */
    private static Boolean matchesAny(Object[] args, StringTest test) {
        if (args.length == 0) {
            return null;
        }
        if (args[0] instanceof Collection<?> options) {
            return options.stream().anyMatch(o -> test.test(String.valueOf(o)));
        }
        return test.test(String.valueOf(args[0]));
    }

    private static List<String> split(String s, String sep, int maxSplit) {
        List<String> parts = new ArrayList<>();
        if (sep == null) { // Python: runs of whitespace, no empty strings
            String rest = s.strip();
            while (!rest.isEmpty()) {
                if (maxSplit >= 0 && parts.size() == maxSplit) {
                    parts.add(rest);
                    return parts;
                }
                int end = 0;
                while (end < rest.length() && !Character.isWhitespace(rest.charAt(end))) {
                    end++;
                }
                parts.add(rest.substring(0, end));
                rest = rest.substring(end).stripLeading();
            }
            return parts;
        }
        int from = 0;
        int at;
        while ((maxSplit < 0 || parts.size() < maxSplit) && (at = s.indexOf(sep, from)) >= 0) {
            parts.add(s.substring(from, at));
            from = at + sep.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    private static List<String> splitLines(String s) {
        List<String> lines = new ArrayList<>(List.of(s.split("\r\n|\r|\n", -1)));
        if (lines.get(lines.size() - 1).isEmpty()) { // Python drops the piece after a final newline
            lines.remove(lines.size() - 1);
        }
        return lines;
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousLetter = false;
        for (char c : s.toCharArray()) {
            out.append(previousLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            previousLetter = Character.isLetter(c);
        }
        return out.toString();
    }

    private static String join(String sep, Object items) {
        List<String> parts = new ArrayList<>();
        if (items instanceof Iterable<?> it) {
            it.forEach(o -> parts.add(String.valueOf(o)));
        } else if (items instanceof Object[] array) {
            for (Object o : array) {
                parts.add(String.valueOf(o));
            }
        } else {
            return null;
        }
        return String.join(sep, parts);
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // read-only: jinjava's own resolver handles assignment
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
