package dev.forgeline.datagen.importers;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.PreferenceLine;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.datagen.cleaning.Deduplicator;
import dev.forgeline.datagen.cleaning.ExampleCheck;
import dev.forgeline.datagen.cleaning.PreferenceCheck;
import dev.forgeline.datagen.cleaning.Rejection;
import dev.forgeline.jobs.ArtifactStore;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * An import request end to end, up to the examples to write: reads the source file in its format
 * ({@link DatasetImporter}), then the same checks and de-duplication as generated examples, with
 * the counts of every stage and the malformed lines (the first {@link #LINES_SHOWN}, with numbers).
 */
public final class DatasetImport {
    static final int LINES_SHOWN = 100;

    /** The examples (or pairs) to write and the card's counts. */
    public record Result<T>(List<T> kept, Map<String, Object> stats) {}

    private final ArtifactStore store;

    public DatasetImport(ArtifactStore store) {
        this.store = store;
    }

    public Result<Conversation> run(DatagenRequest r) throws IOException {
        DatasetImporter.Imported<Conversation> imported;
        try (InputStream in = open(r.source().path())) {
            imported = DatasetImporter.read(in, r.source().format());
        }
        ExampleCheck check = ExampleCheck.defaults();
        return clean(r, imported, c -> check.check(c, null), c -> c);
    }

    /**
     * A preference file: pairs by {@link dev.forgeline.contracts.PreferenceLine}'s rules, then
     * {@link PreferenceCheck} and the de-duplication of whole pairs (prompt, chosen and rejected).
     * {@code system_prompt}, when given, replaces the prompts' system turns; otherwise they stay.
     */
    public Result<PreferenceLine> preferences(DatagenRequest r) throws IOException {
        DatasetImporter.Imported<PreferenceLine> imported;
        try (InputStream in = open(r.source().path())) {
            imported = DatasetImporter.readPreferences(in);
        }
        Result<PreferenceLine> cleaned = clean(r, imported, PreferenceCheck::check, DatasetImport::asConversation);
        if (r.systemPrompt() == null || r.systemPrompt().isBlank()) return cleaned;
        List<PreferenceLine> withSystem = new ArrayList<>(cleaned.kept().size());
        for (PreferenceLine p : cleaned.kept()) {
            List<ChatTurn> prompt = new ArrayList<>();
            prompt.add(ChatTurn.system(r.systemPrompt()));
            p.prompt().stream().filter(t -> !"system".equals(t.role())).forEach(prompt::add);
            withSystem.add(new PreferenceLine(prompt, p.chosen(), p.rejected()));
        }
        return new Result<>(withSystem, cleaned.stats());
    }

    /** A pair as one conversation for the de-duplicator: every turn counts (system turns it skips itself). */
    private static Conversation asConversation(PreferenceLine p) {
        List<ChatTurn> turns = new ArrayList<>(p.prompt());
        turns.add(p.chosen());
        turns.add(p.rejected());
        return new Conversation(turns);
    }

    /** Checks and de-duplicates what was read, with the counts of every stage. */
    private <T> Result<T> clean(DatagenRequest r, DatasetImporter.Imported<T> imported, Function<T, Optional<Rejection>> check,
            Function<T, Conversation> dedupKey) {
        Deduplicator dedup = new Deduplicator(r.nearDuplicateThreshold(), r.seed());
        Map<Rejection, Long> rejected = new java.util.EnumMap<>(Rejection.class);
        long exact = 0;
        long near = 0;
        List<T> kept = new ArrayList<>();
        for (T c : imported.examples()) {
            Optional<Rejection> why = check.apply(c);
            if (why.isPresent()) {
                rejected.merge(why.get(), 1L, Long::sum);
                continue;
            }
            switch (dedup.offer(dedupKey.apply(c))) {
                case NEW -> kept.add(c);
                case EXACT -> exact++;
                case NEAR -> near++;
            }
        }
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("lines", imported.lines());
        stats.put("malformed", imported.malformed().size());
        stats.put("malformed_lines", imported.malformed().stream().limit(LINES_SHOWN)
                .map(m -> Map.of("line", m.line(), "reason", m.reason())).toList());
        stats.put("returned", imported.examples().size());
        Map<String, Object> reasons = new LinkedHashMap<>();
        rejected.forEach((k, v) -> reasons.put(k.key(), v));
        stats.put("rejected", reasons);
        stats.put("duplicates", Map.of("exact", exact, "near", near));
        stats.put("kept", kept.size());
        if (kept.isEmpty()) {
            throw new IllegalArgumentException("nothing to import from " + r.source().path() + ": " + stats);
        }
        return new Result<>(kept, stats);
    }

    /** An artifact store path, a {@code file:} URI or an absolute path. */
    public InputStream open(String path) throws IOException {
        Path file = path.startsWith("file:") ? Path.of(URI.create(path.startsWith("file://") ? path : "file://" + path.substring(5)))
                : Path.of(path).isAbsolute() ? Path.of(path) : null;
        if (file == null) {
            if (!store.exists(path)) {
                throw new IllegalArgumentException("source file '" + path + "' not found in the artifact store " + store.uri());
            }
            return store.open(path);
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("source file '" + path + "' not found");
        }
        if (!Files.isReadable(file)) {
            throw new IllegalArgumentException("source file '" + path + "' is not readable");
        }
        return Files.newInputStream(file);
    }
}
