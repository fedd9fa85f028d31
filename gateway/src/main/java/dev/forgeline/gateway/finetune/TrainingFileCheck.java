package dev.forgeline.gateway.finetune;

import dev.forgeline.engine.train.ChatDataset;
import dev.forgeline.engine.train.DatasetException;
import dev.forgeline.gateway.protocol.ApiError;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks an uploaded fine-tuning file line by line with the trainer's own reader
 * ({@code llm-engine}'s {@code ChatDataset#parseLine}), so a file that passes here trains, and one
 * that would fail a job an hour later is refused at upload with its line numbers instead.
 */
public final class TrainingFileCheck {
    /** The first problems named in the error; a file broken throughout would make a huge message. */
    static final int MAX_REPORTED = 10;

    private TrainingFileCheck() {}

    /** The examples (non-blank lines) of a valid file; a 400 naming the bad lines otherwise. */
    public static List<String> examples(byte[] content) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(content)).toString();
        } catch (CharacterCodingException e) {
            throw ApiError.invalid("file", "Invalid file format: the file is not UTF-8 text");
        }
        List<String> examples = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int badLines = 0;
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue; // blank lines are skipped, as the trainer does
            }
            String problem = problem(lines[i]);
            if (problem == null) {
                examples.add(lines[i]);
            } else if (++badLines <= MAX_REPORTED) {
                problems.add("line " + (i + 1) + ": " + problem);
            }
        }
        if (badLines > 0) {
            throw ApiError.invalid("file", "Invalid file format for fine-tuning: " + String.join("; ", problems)
                    + (badLines > MAX_REPORTED ? "; and " + (badLines - MAX_REPORTED) + " more lines" : "")
                    + ". Each line must be a JSON object {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}.");
        }
        if (examples.isEmpty()) {
            throw ApiError.invalid("file", "Invalid file format for fine-tuning: the file holds no examples");
        }
        return examples;
    }

    /** What is wrong with one line, or null. */
    static String problem(String line) {
        try {
            ChatDataset.parseLine(line);
            return null;
        } catch (DatasetException e) {
            return e.getMessage();
        }
    }
}
