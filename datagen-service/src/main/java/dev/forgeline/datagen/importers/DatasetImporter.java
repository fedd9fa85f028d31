package dev.forgeline.datagen.importers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.PreferenceLine;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Reads a dataset someone already has (Alpaca, Dolly, ShareGPT, OpenAI chat or prompt/completion)
 * into conversations, or preference pairs (TRL's layout, by contracts' {@link PreferenceLine} rules,
 * the trainer's too). Lines it cannot use are reported, never thrown, so one bad line does not cost
 * the rest of the file.
 */
public final class DatasetImporter {
    private DatasetImporter() {}

    /** One line the importer could not use: 1-based line number and why. */
    public record MalformedLine(int line, String reason) {}

    /**
     * What was read: the usable examples in file order, the unusable lines in file order, and
     * how many lines there were (physical lines, blank ones included; for a JSON array, elements).
     */
    public record Imported<T>(List<T> examples, List<MalformedLine> malformed, int lines) {
        public Imported {
            examples = List.copyOf(examples);
            malformed = List.copyOf(malformed);
        }
    }

    /**
     * Reads JSON Lines (one object a line; blank lines skipped but counted) or, when the first
     * non-blank character is '[', one JSON array of objects (then "line" means the element's
     * 1-based index). The input is UTF-8; a leading byte order mark is ignored.
     */
    public static Imported<DatagenRequest.Conversation> read(InputStream in, DatagenRequest.Format format) throws IOException {
        Objects.requireNonNull(format, "format");
        if (format == DatagenRequest.Format.PREFERENCE) {
            throw new IllegalArgumentException("preference lines are pairs, not conversations: use readPreferences");
        }
        return read(in, object -> ExampleMapping.toConversation(object, format));
    }

    /** Preference pairs, read as {@link #read(InputStream, DatagenRequest.Format)} reads conversations. */
    public static Imported<PreferenceLine> readPreferences(InputStream in) throws IOException {
        return read(in, object -> {
            try {
                return PreferenceLine.of(object);
            } catch (PreferenceLine.Invalid e) {
                throw new UnusableLine(e.getMessage());
            }
        });
    }

    /**
     * Each JSON object of the input through {@code mapping}, which throws {@link UnusableLine} for an
     * object it cannot use; the line numbers and the rest as {@link #read(InputStream, DatagenRequest.Format)}.
     */
    public static <T> Imported<T> read(InputStream in, Function<JsonNode, T> mapping) throws IOException {
        Objects.requireNonNull(in, "in");
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        LeadingBlank leading = skipLeadingBlank(reader);
        if (leading.firstChar() == '[') return readArray(reader, mapping);
        return readLines(reader, mapping, leading);
    }

    /** Why one object cannot be used; caught per line, so no stack trace is needed. */
    public static class UnusableLine extends RuntimeException {
        public UnusableLine(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * How the input starts: the line breaks before the first non-blank character, whether blank
     * characters follow the last of them, and that character (-1 at end of input). The reader is
     * left just before that character.
     */
    private record LeadingBlank(int lineBreaks, boolean lineStarted, int firstChar) {}

    private static LeadingBlank skipLeadingBlank(BufferedReader reader) throws IOException {
        int lineBreaks = 0;
        boolean lineStarted = false;
        boolean afterCarriageReturn = false;
        while (true) {
            reader.mark(1);
            int c = reader.read();
            if (c == -1) return new LeadingBlank(lineBreaks, lineStarted, -1);
            if (c == '\n') {
                // "\r\n" is one break, as BufferedReader.readLine counts it.
                if (!afterCarriageReturn) lineBreaks++;
                lineStarted = false;
            } else if (c == '\r') {
                lineBreaks++;
                lineStarted = false;
            } else if (Character.isWhitespace(c) || c == '\uFEFF') {
                lineStarted = true;
            } else {
                reader.reset();
                return new LeadingBlank(lineBreaks, lineStarted, c);
            }
            afterCarriageReturn = c == '\r';
        }
    }

    private static <T> Imported<T> readLines(BufferedReader reader, Function<JsonNode, T> mapping, LeadingBlank leading)
            throws IOException {
        List<T> examples = new ArrayList<>();
        List<MalformedLine> malformed = new ArrayList<>();
        if (leading.firstChar() == -1) {
            return new Imported<>(examples, malformed, leading.lineBreaks() + (leading.lineStarted() ? 1 : 0));
        }
        int lineNumber = leading.lineBreaks();
        String line;
        while ((line = reader.readLine()) != null) {
            lineNumber++;
            if (line.isBlank()) continue;
            try {
                examples.add(mapping.apply(parseObject(line)));
            } catch (UnusableLine e) {
                malformed.add(new MalformedLine(lineNumber, e.getMessage()));
            }
        }
        return new Imported<>(examples, malformed, lineNumber);
    }

    /** One line as a JSON object, or why it is not one. */
    private static JsonNode parseObject(String line) {
        ObjectMapper mapper = ContractsJson.mapper();
        try (JsonParser parser = mapper.getFactory().createParser(line)) {
            JsonNode node = mapper.readTree(parser);
            // readTree stops after the first value; two objects on one line are a broken line, not one example.
            if (parser.nextToken() != null) {
                throw new UnusableLine("not JSON: more than one value on the line");
            }
            if (!node.isObject()) {
                throw new UnusableLine("not an object but " + ExampleMapping.kind(node));
            }
            return node;
        } catch (IOException e) {
            // Parsing a String cannot fail for I/O; every IOException here is a syntax error.
            throw new UnusableLine("not JSON: " + jacksonReason(e));
        }
    }

    private static <T> Imported<T> readArray(BufferedReader reader, Function<JsonNode, T> mapping) throws IOException {
        List<T> examples = new ArrayList<>();
        List<MalformedLine> malformed = new ArrayList<>();
        ObjectMapper mapper = ContractsJson.mapper();
        int index = 0;
        try (JsonParser parser = mapper.getFactory().createParser(reader)) {
            parser.nextToken(); // the '[' already seen
            while (true) {
                int next = index + 1;
                JsonToken token;
                JsonNode element;
                try {
                    token = parser.nextToken();
                    if (token == JsonToken.END_ARRAY) break;
                    if (token == null) {
                        index = next;
                        malformed.add(new MalformedLine(next, "not JSON: the array is not closed"));
                        break;
                    }
                    index = next;
                    element = mapper.readTree(parser);
                } catch (JsonProcessingException e) {
                    // Syntax errors and parser limits; plain IOExceptions are real read failures and propagate.
                    // The parser cannot find the next element after a syntax error, so the rest is lost.
                    index = next;
                    malformed.add(new MalformedLine(next, "not JSON: " + jacksonReason(e) + " (rest of the array not read)"));
                    return new Imported<>(examples, malformed, index);
                }
                if (!element.isObject()) {
                    malformed.add(new MalformedLine(index, "not an object but " + ExampleMapping.kind(element)));
                    continue;
                }
                try {
                    examples.add(mapping.apply(element));
                } catch (UnusableLine e) {
                    malformed.add(new MalformedLine(index, e.getMessage()));
                }
            }
            try {
                if (parser.nextToken() != null) {
                    malformed.add(new MalformedLine(index + 1, "content after the closing ']' not read"));
                }
            } catch (JsonProcessingException e) {
                malformed.add(new MalformedLine(index + 1, "content after the closing ']' not read"));
            }
        }
        return new Imported<>(examples, malformed, index);
    }

    /** Jackson's message without the source excerpt and location it appends. */
    private static String jacksonReason(IOException e) {
        String message = e instanceof JsonProcessingException parse ? parse.getOriginalMessage() : e.getMessage();
        if (message == null) return e.getClass().getSimpleName();
        int lineBreak = message.indexOf('\n');
        return lineBreak < 0 ? message : message.substring(0, lineBreak);
    }
}
