package dev.forgeline.engine.train;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.PreferenceLine;
import dev.forgeline.engine.tokenizer.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads preference data for DPO in TRL's layout, one JSON object per line:
 *
 * <pre>
 *   {"prompt": "...", "chosen": "...", "rejected": "..."}                                    standard
 *   {"prompt": [{"role": "user", "content": "..."}],
 *    "chosen": [{"role": "assistant", "content": "..."}], "rejected": [{"role": "assistant", ...}]}  conversational
 * </pre>
 *
 * {@code messages} may stand for {@code prompt} (the conversation up to its last user turn); a
 * reply may also be one message object. Blank lines are skipped; any other line that is not a
 * pair fails with its line number, as {@link ChatDataset} does.
 */
public final class PreferenceDataset {

    private PreferenceDataset() {}

    /**
     * Whether a set's text holds preference pairs rather than chat examples: its first non-blank
     * line reads as a pair. The one rule for telling the two apart (uploads, held-out sets).
     */
    public static boolean holdsPairs(java.util.stream.Stream<String> lines) {
        return lines.filter(l -> !l.isBlank()).findFirst().map(PreferenceDataset::isPair).orElse(false);
    }

    private static boolean isPair(String line) {
        try {
            parseLine(line);
            return true;
        } catch (DatasetException e) {
            return false;
        }
    }

    /** Every pair of {@code file}; fails when the file is missing, malformed or holds no pair. */
    public static List<PreferenceExample> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException("dataset file " + file + " does not exist", new NoSuchFileException(file.toString()));
        }
        List<PreferenceExample> pairs = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    pairs.add(parseLine(line));
                } catch (DatasetException e) {
                    throw new DatasetException(file.getFileName() + ":" + number + ": " + e.getMessage(), e.getCause());
                }
            }
        } catch (IOException e) {
            throw new DatasetException("cannot read dataset " + file + ": " + e.getMessage(), e);
        }
        if (pairs.isEmpty()) {
            throw new DatasetException("dataset " + file + " holds no preference pairs");
        }
        return pairs;
    }

    /**
     * One JSONL line as a pair, by contracts' {@link PreferenceLine} rules (the ones datagen's importer
     * uses); a {@link DatasetException} says what is wrong.
     */
    public static PreferenceExample parseLine(String line) {
        PreferenceLine pair;
        try {
            pair = PreferenceLine.parse(line);
        } catch (PreferenceLine.Invalid e) {
            throw new DatasetException(e.getMessage(), e.getCause());
        }
        return new PreferenceExample(pair.prompt().stream().map(PreferenceDataset::message).toList(),
                message(pair.chosen()), message(pair.rejected()));
    }

    private static ChatMessage message(ChatTurn turn) {
        return new ChatMessage(turn.role(), turn.content());
    }
}
