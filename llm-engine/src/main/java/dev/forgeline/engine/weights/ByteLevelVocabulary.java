package dev.forgeline.engine.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A working GPT-2-style byte-level BPE tokenizer of any size from 259 up, for generated test
 * models: three ChatML special tokens, the 256 byte symbols, then merges of printable symbols
 * until the vocabulary has the requested size. Any text round-trips; the merges are arbitrary
 * but valid, so encodings are deterministic and tokens per word realistic enough for tests.
 */
public final class ByteLevelVocabulary {

    public static final List<String> SPECIAL = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>");
    public static final int MIN_SIZE = SPECIAL.size() + 256;
    public static final String CHAT_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static final ObjectMapper JSON = new ObjectMapper();

    private ByteLevelVocabulary() {}

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
    static char[] byteSymbols() {
        char[] map = new char[256];
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
        int next = 256;
        for (int b = 0; b < 256; b++) {
            map[b] = direct[b] ? (char) b : (char) next++;
        }
        return map;
    }

    /** Writes tokenizer.json and tokenizer_config.json of {@code size} tokens into {@code dir}. */
    public static void write(Path dir, int size, int modelMaxLength) {
        if (size < MIN_SIZE) {
            throw new IllegalArgumentException("a byte-level vocabulary needs at least " + MIN_SIZE + " tokens, asked for " + size);
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String s : SPECIAL) {
            vocab.put(s, vocab.size());
        }
        char[] symbols = byteSymbols();
        for (char c : symbols) {
            vocab.put(String.valueOf(c), vocab.size());
        }
        // Units to merge: the space marker, letters, digits, punctuation, most useful first.
        List<String> units = new ArrayList<>();
        units.add(String.valueOf(symbols[' ']));
        for (char c = 'a'; c <= 'z'; c++) units.add(String.valueOf(c));
        for (char c = 'A'; c <= 'Z'; c++) units.add(String.valueOf(c));
        for (char c = '0'; c <= '9'; c++) units.add(String.valueOf(c));
        for (char c : ".,!?'\"-:;()".toCharArray()) units.add(String.valueOf(c));
        List<String> merges = new ArrayList<>();
        List<String> level = units;
        while (vocab.size() < size) {
            List<String> made = new ArrayList<>();
            outer:
            for (String left : level) {
                for (String right : units.subList(1, units.size())) { // never end a token on the space marker
                    String token = left + right;
                    if (!vocab.containsKey(token)) {
                        vocab.put(token, vocab.size());
                        merges.add(left + " " + right);
                        made.add(token);
                        if (vocab.size() == size) {
                            break outer;
                        }
                    }
                }
            }
            level = made;
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < SPECIAL.size(); i++) {
            ObjectNode t = added.addObject();
            t.put("id", i);
            t.put("content", SPECIAL.get(i));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        root.putNull("post_processor");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", true);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        merges.forEach(m::add);

        ObjectNode config = JSON.createObjectNode();
        config.put("add_bos_token", false);
        config.put("add_eos_token", false);
        ObjectNode decoderMap = config.putObject("added_tokens_decoder");
        for (int i = 0; i < SPECIAL.size(); i++) {
            ObjectNode t = decoderMap.putObject(String.valueOf(i));
            t.put("content", SPECIAL.get(i));
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
            t.put("special", true);
        }
        config.put("bos_token", SPECIAL.get(1));
        config.put("eos_token", SPECIAL.get(2));
        config.put("pad_token", SPECIAL.get(0));
        config.putNull("unk_token");
        config.put("clean_up_tokenization_spaces", false);
        config.put("model_max_length", modelMaxLength);
        config.put("tokenizer_class", "PreTrainedTokenizerFast");
        config.put("chat_template", CHAT_TEMPLATE);
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(root), StandardCharsets.UTF_8);
            Files.writeString(dir.resolve("tokenizer_config.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
