package dev.forgeline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A multiple-choice set: test and dev questions per subject, in file order. Reads the original
 * MMLU layout (CSV without header, {@code question,A,B,C,D,answer}, files
 * {@code {subject}_{dev|test}.csv}), a headered CSV ({@code question}, {@code A}..{@code J},
 * {@code answer}, optional {@code subject}) and JSONL ({@code question}, {@code choices},
 * {@code answer} as index or letter, optional {@code subject}); a folder of such files (searched
 * recursively), or one file with its {@code {subject}_dev} sibling as the dev split. Field text is
 * kept as written. A malformed row fails with its file and line.
 */
public final class McqSet {
    private static final Pattern NAME = Pattern.compile("(.+)_(dev|test)\\.(csv|jsonl)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, List<McqItem>> test = new TreeMap<>();
    private final Map<String, List<McqItem>> dev = new TreeMap<>();

    private McqSet() {}

    public static McqSet read(Path path) {
        if (!Files.exists(path)) {
            throw new IllegalArgumentException("multiple-choice set " + path + " does not exist");
        }
        McqSet set = new McqSet();
        if (Files.isDirectory(path)) {
            List<Path> files;
            try (Stream<Path> s = Files.walk(path)) {
                files = s.filter(Files::isRegularFile).filter(f -> NAME.matcher(f.getFileName().toString()).matches())
                        .sorted().toList();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + path, e);
            }
            if (files.isEmpty()) {
                throw new IllegalArgumentException("folder " + path + " holds no {subject}_{dev|test}.csv or .jsonl file");
            }
            files.forEach(set::add);
        } else {
            set.add(path);
            Matcher m = NAME.matcher(path.getFileName().toString());
            if (m.matches() && m.group(2).equals("test")) {
                for (String ext : List.of("csv", "jsonl")) {
                    Path sibling = path.resolveSibling(m.group(1) + "_dev." + ext);
                    if (Files.isRegularFile(sibling)) {
                        set.add(sibling);
                    }
                }
            }
        }
        return set;
    }

    public List<String> subjects() {
        return List.copyOf(test.keySet());
    }

    public List<McqItem> test(String subject) {
        return test.getOrDefault(subject, List.of());
    }

    public List<McqItem> dev(String subject) {
        return dev.getOrDefault(subject, List.of());
    }

    private void add(Path file) {
        String name = file.getFileName().toString();
        Matcher m = NAME.matcher(name);
        String subject = m.matches() ? m.group(1) : name.replaceFirst("\\.[^.]*$", "");
        boolean isDev = m.matches() && m.group(2).equals("dev");
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        List<Row> rows = name.toLowerCase(Locale.ROOT).endsWith(".jsonl") ? jsonl(file, text) : csv(file, text);
        Map<String, List<McqItem>> split = isDev ? dev : test;
        for (Row r : rows) {
            String s = r.subject() != null ? r.subject() : subject;
            List<McqItem> items = split.computeIfAbsent(s, k -> new ArrayList<>());
            items.add(new McqItem(s, items.size(), r.question(), r.choices(), r.answer()));
        }
        if (!isDev) {
            test.computeIfAbsent(subject, k -> new ArrayList<>());
        }
    }

    private record Row(String subject, String question, List<String> choices, int answer) {}

    private static List<Row> csv(Path file, String text) {
        List<Row> rows = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        List<List<String>> records = CsvRecords.parse(file, text, starts);
        if (records.isEmpty()) {
            return rows;
        }
        List<String> first = records.get(0);
        boolean headered = first.get(0).strip().equalsIgnoreCase("question");
        int choices;
        int answerColumn;
        int subjectColumn = -1;
        if (headered) {
            List<String> header = first.stream().map(h -> h.strip()).toList();
            choices = 0;
            while (header.contains(MmluPrompt.letter(choices)) && choices < 10) {
                choices++;
            }
            answerColumn = indexOfIgnoreCase(header, "answer");
            subjectColumn = indexOfIgnoreCase(header, "subject");
            if (choices < 2 || answerColumn < 0) {
                throw new McqFormatException(file, 1, "a header needs question, A, B (up to J) and answer columns, found " + header);
            }
        } else {
            choices = first.size() - 2;
            answerColumn = first.size() - 1;
        }
        List<String> header = headered ? first.stream().map(String::strip).toList() : null;
        for (int i = headered ? 1 : 0; i < records.size(); i++) {
            List<String> rec = records.get(i);
            int line = starts.get(i);
            int width = headered ? header.size() : choices + 2;
            if (rec.size() != width) {
                throw new McqFormatException(file, line, rec.size() + " columns, expected " + width);
            }
            List<String> options = new ArrayList<>();
            for (int c = 0; c < choices; c++) {
                options.add(rec.get(headered ? header.indexOf(MmluPrompt.letter(c)) : c + 1));
            }
            String subject = subjectColumn >= 0 && !rec.get(subjectColumn).isBlank() ? rec.get(subjectColumn).strip() : null;
            rows.add(row(file, line, subject, rec.get(0), options, rec.get(answerColumn).strip()));
        }
        return rows;
    }

    private static int indexOfIgnoreCase(List<String> header, String name) {
        for (int i = 0; i < header.size(); i++) {
            if (header.get(i).equalsIgnoreCase(name)) return i;
        }
        return -1;
    }

    private static List<Row> jsonl(Path file, String text) {
        List<Row> rows = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) continue;
            JsonNode o;
            try {
                o = JSON.readTree(lines[i]);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new McqFormatException(file, i + 1, "not JSON: " + e.getOriginalMessage());
            }
            if (o == null || !o.isObject()) {
                throw new McqFormatException(file, i + 1, "expected a JSON object");
            }
            JsonNode q = o.get("question");
            JsonNode c = o.get("choices");
            JsonNode a = o.get("answer");
            if (q == null || !q.isTextual()) throw new McqFormatException(file, i + 1, "question must be a string");
            if (c == null || !c.isArray()) throw new McqFormatException(file, i + 1, "choices must be an array of strings");
            List<String> choices = new ArrayList<>();
            for (JsonNode x : c) {
                if (!x.isTextual()) throw new McqFormatException(file, i + 1, "choices must be an array of strings");
                choices.add(x.asText());
            }
            if (a == null || !(a.isTextual() || a.isIntegralNumber())) {
                throw new McqFormatException(file, i + 1, "answer must be a choice index or letter");
            }
            String subject = o.hasNonNull("subject") ? o.get("subject").asText() : null;
            rows.add(row(file, i + 1, subject, q.asText(), choices, a.asText().strip()));
        }
        return rows;
    }

    private static Row row(Path file, int line, String subject, String question, List<String> choices, String answer) {
        if (question.isBlank()) {
            throw new McqFormatException(file, line, "empty question");
        }
        if (choices.size() < 2 || choices.size() > 10) {
            throw new McqFormatException(file, line, choices.size() + " choices; 2 to 10 are allowed");
        }
        int index;
        if (answer.matches("[0-9]+")) {
            index = Integer.parseInt(answer);
        } else if (answer.length() == 1 && Character.isLetter(answer.charAt(0))) {
            index = Character.toUpperCase(answer.charAt(0)) - 'A';
        } else {
            index = -1;
        }
        if (index < 0 || index >= choices.size()) {
            throw new McqFormatException(file, line, "answer '" + answer + "' is not one of A-"
                    + MmluPrompt.letter(choices.size() - 1) + " (or 0-" + (choices.size() - 1) + ")");
        }
        return new Row(subject, question, choices, index);
    }

    /** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
    private static final class CsvRecords {
        /** @param starts receives each record's first line */
        static List<List<String>> parse(Path file, String text, List<Integer> starts) {
            List<List<String>> records = new ArrayList<>();
            List<String> record = new ArrayList<>();
            StringBuilder field = new StringBuilder();
            boolean quoted = false;
            boolean fieldWasQuoted = false;
            int line = 1;
            int recordLine = 1;
            int quoteLine = 0;
            boolean empty = true; // nothing in this record yet
            for (int i = 0; i < text.length(); i++) {
                char ch = text.charAt(i);
                if (quoted) {
                    if (ch == '"') {
                        if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
                            field.append('"');
                            i++;
                        } else {
                            quoted = false;
                        }
                    } else {
                        if (ch == '\n') line++;
                        field.append(ch);
                    }
                    continue;
                }
                switch (ch) {
                    case '"' -> {
                        if (field.length() > 0 || fieldWasQuoted) {
                            throw new McqFormatException(file, line, "a quote inside an unquoted field");
                        }
                        quoted = true;
                        fieldWasQuoted = true;
                        quoteLine = line;
                        empty = false;
                    }
                    case ',' -> {
                        record.add(field.toString());
                        field.setLength(0);
                        fieldWasQuoted = false;
                        empty = false;
                    }
                    case '\r' -> { }
                    case '\n' -> {
                        if (!empty || field.length() > 0) {
                            record.add(field.toString());
                            records.add(record);
                            starts.add(recordLine);
                        }
                        record = new ArrayList<>();
                        field.setLength(0);
                        fieldWasQuoted = false;
                        empty = true;
                        line++;
                        recordLine = line;
                    }
                    default -> {
                        field.append(ch);
                        empty = false;
                    }
                }
            }
            if (quoted) {
                throw new McqFormatException(file, quoteLine, "a quoted field is never closed");
            }
            if (!empty || field.length() > 0) {
                record.add(field.toString());
                records.add(record);
                starts.add(recordLine);
            }
            return records;
        }
    }
}
