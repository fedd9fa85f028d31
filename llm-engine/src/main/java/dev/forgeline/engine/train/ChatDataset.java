package dev.forgeline.engine.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.forgeline.engine.tokenizer.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Reads chat SFT data in OpenAI's fine-tuning JSONL layout: one
 * {@code {"messages": [{"role": ..., "content": ...}, ...]}} object per line. Blank lines are
 * skipped; any other line that is not such an object fails with its line number, so a user can
 * fix the file instead of losing examples silently.
 */
public final class ChatDataset {

    private static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

    private ChatDataset() {}

    /** Every example of {@code file}; fails when the file is missing, malformed or holds no example. */
    public static List<ChatExample> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException("dataset file " + file + " does not exist",
                    new NoSuchFileException(file.toString()));
        }
        List<ChatExample> examples = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (!line.isBlank()) {
                    examples.add(parse(line, file, number));
                }
            }
        } catch (IOException e) {
            throw new DatasetException("cannot read dataset " + file + ": " + e.getMessage(), e);
        }
        if (examples.isEmpty()) {
            throw new DatasetException("dataset " + file + " holds no examples");
        }
        return examples;
    }

    static ChatExample parse(String line, Path file, int number) {
        try {
            return parseLine(line);
        } catch (DatasetException e) {
            throw new DatasetException(file.getFileName() + ":" + number + ": " + e.getMessage(), e.getCause());
        }
    }

    /**
     * One JSONL line as an example: a JSON object whose {@code messages} are system, user, assistant
     * or tool turns with string contents, at least one of them the assistant's. A
     * {@link DatasetException} says what is wrong (the gateway checks uploads with the same rules).
     */
    public static ChatExample parseLine(String line) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DatasetException("not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        JsonNode messages = node == null ? null : node.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw new DatasetException("expected an object with a non-empty \"messages\" array");
        }
        List<ChatMessage> out = new ArrayList<>(messages.size());
        boolean hasAssistant = false;
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            JsonNode role = m.get("role");
            JsonNode content = m.get("content");
            if (role == null || !role.isTextual() || !ROLES.contains(role.asText())) {
                throw new DatasetException("messages[" + i + "].role must be one of " + ROLES.stream().sorted().toList());
            }
            if (content == null || !content.isTextual()) {
                throw new DatasetException("messages[" + i + "].content must be a string");
            }
            hasAssistant |= role.asText().equals("assistant");
            out.add(new ChatMessage(role.asText(), content.asText()));
        }
        if (!hasAssistant) {
            throw new DatasetException("no assistant message, so nothing to learn from");
        }
        return new ChatExample(out);
    }

    /** sha256 over the bytes of the files in order, hex: the dataset's identity for lineage. */
    public static String contentHash(List<Path> files) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (Path f : files) {
                try (InputStream in = Files.newInputStream(f)) {
                    int n;
                    while ((n = in.read(buffer)) > 0) {
                        sha.update(buffer, 0, n);
                    }
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
