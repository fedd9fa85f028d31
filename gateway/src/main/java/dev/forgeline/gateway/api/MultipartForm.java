package dev.forgeline.gateway.api;

import dev.forgeline.gateway.protocol.ApiError;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A {@code multipart/form-data} body (RFC 7578) read from bytes already in memory. The files route
 * parses uploads itself instead of letting Vert.x's BodyHandler decode them: that decoder throws
 * on malformed bodies, writes parts to disk, and its failures cannot all be told apart from the
 * server's own; here every malformed body is a 400 that says what is wrong.
 */
final class MultipartForm {
    /** Forms here have two fields; a body of thousands of parts is an attack, not a form. */
    static final int MAX_PARTS = 32;
    private static final byte[] CRLF = {'\r', '\n'};
    private static final byte[] HEADERS_END = {'\r', '\n', '\r', '\n'};

    /** One field; {@code filename} null for a plain field. */
    record Part(String name, String filename, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    private MultipartForm() {}

    /** The boundary a {@code Content-Type} header names, or null. */
    static String boundary(String contentType) {
        Map<String, String> params = params(contentType);
        String b = params.get("boundary");
        return b == null || b.isEmpty() || b.length() > 200 ? null : b;
    }

    /** The fields by name; a 400 for anything malformed, a name given twice included. */
    static Map<String, Part> parse(byte[] body, String boundary) {
        byte[] delimiter = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        Map<String, Part> parts = new LinkedHashMap<>();
        int at = indexOf(body, delimiter, 0);
        if (at < 0 || (at > 0 && indexOf(body, concat(CRLF, delimiter), at - 2) != at - 2)) {
            throw malformed("no opening boundary");
        }
        byte[] next = concat(CRLF, delimiter);
        int pos = at + delimiter.length;
        while (true) {
            if (startsWith(body, pos, new byte[] {'-', '-'})) {
                return parts; // the closing delimiter; an epilogue after it is ignored, as RFC 2046 says
            }
            while (pos < body.length && (body[pos] == ' ' || body[pos] == '\t')) {
                pos++; // transport padding after a delimiter
            }
            if (!startsWith(body, pos, CRLF)) {
                throw malformed("a boundary is not followed by a line break");
            }
            int headersStart = pos + 2;
            int headersEnd = startsWith(body, headersStart, CRLF) ? headersStart : indexOf(body, HEADERS_END, headersStart);
            if (headersEnd < 0) {
                throw malformed("a part's headers do not end");
            }
            int dataStart = headersEnd + (headersEnd == headersStart ? 2 : 4);
            int dataEnd = indexOf(body, next, dataStart);
            if (dataEnd < 0) {
                throw malformed("the body ends before its closing boundary");
            }
            Part part = part(new String(body, headersStart, headersEnd - headersStart, StandardCharsets.UTF_8),
                    Arrays.copyOfRange(body, dataStart, dataEnd));
            if (parts.size() >= MAX_PARTS) {
                throw malformed("more than " + MAX_PARTS + " parts");
            }
            if (parts.putIfAbsent(part.name(), part) != null) {
                throw ApiError.invalid(part.name(), "The form field '" + part.name() + "' is given more than once");
            }
            pos = dataEnd + next.length;
        }
    }

    private static Part part(String headers, byte[] data) {
        String disposition = null;
        for (String line : headers.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().equalsIgnoreCase("Content-Disposition")) {
                disposition = line.substring(colon + 1);
            }
        }
        if (disposition == null || !disposition.strip().toLowerCase(Locale.ROOT).startsWith("form-data")) {
            throw malformed("a part has no 'Content-Disposition: form-data' header");
        }
        Map<String, String> params = params(disposition);
        String name = params.get("name");
        if (name == null || name.isEmpty()) {
            throw malformed("a part has no field name");
        }
        return new Part(name, params.get("filename"), data);
    }

    /** {@code value; key=value; key="quoted value"} as a map of the keys, lower case, to their values. */
    private static Map<String, String> params(String header) {
        Map<String, String> out = new LinkedHashMap<>();
        if (header == null) {
            return out;
        }
        int i = header.indexOf(';');
        while (i >= 0 && i < header.length()) {
            int eq = header.indexOf('=', i + 1);
            if (eq < 0) {
                break;
            }
            String key = header.substring(i + 1, eq).strip().toLowerCase(Locale.ROOT);
            String value;
            int end;
            if (eq + 1 < header.length() && header.charAt(eq + 1) == '"') {
                StringBuilder sb = new StringBuilder();
                end = eq + 2;
                while (end < header.length() && header.charAt(end) != '"') {
                    char c = header.charAt(end);
                    if (c == '\\' && end + 1 < header.length()) {
                        c = header.charAt(++end);
                    }
                    sb.append(c);
                    end++;
                }
                value = sb.toString();
                end = header.indexOf(';', end);
            } else {
                end = header.indexOf(';', eq + 1);
                value = header.substring(eq + 1, end < 0 ? header.length() : end).strip();
            }
            out.putIfAbsent(key, value);
            i = end;
        }
        return out;
    }

    private static ApiError malformed(String why) {
        return ApiError.invalid(null, "The multipart/form-data body cannot be read: " + why);
    }

    private static boolean startsWith(byte[] body, int at, byte[] prefix) {
        if (at < 0 || at + prefix.length > body.length) {
            return false;
        }
        for (int k = 0; k < prefix.length; k++) {
            if (body[at + k] != prefix[k]) {
                return false;
            }
        }
        return true;
    }

    static int indexOf(byte[] body, byte[] target, int from) {
        for (int i = Math.max(0, from), last = body.length - target.length; i <= last; i++) {
            if (body[i] == target[0] && startsWith(body, i, target)) {
                return i;
            }
        }
        return -1;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
