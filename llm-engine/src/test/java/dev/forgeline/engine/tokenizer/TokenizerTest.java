package dev.forgeline.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.forgeline.engine.SharedData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.IntStream;

class TokenizerTest {

    private static final Path MODEL = SharedData.model("stories260k");
    private static Tokenizer tokenizer;
    private static JsonNode reference;

    @BeforeAll
    static void load() throws IOException {
        tokenizer = Tokenizer.load(MODEL);
        reference = new ObjectMapper().readTree(MODEL.resolve("reference.json").toFile());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        return IntStream.concat(Arrays.stream(a), Arrays.stream(b)).toArray();
    }

    @Test
    void specialTokensAndVocabularyComeFromTheModelFolder() {
        assertEquals("<s>", tokenizer.bosToken());
        assertEquals("</s>", tokenizer.eosToken());
        assertEquals("<unk>", tokenizer.unkToken());
        assertEquals(512, tokenizer.vocabSize());
        assertEquals(OptionalInt.of(1), tokenizer.tokenId("<s>"));
        assertEquals(OptionalInt.of(2), tokenizer.tokenId("</s>"));
        assertEquals(OptionalInt.of(3), tokenizer.tokenId("<0x00>"));
        assertEquals(OptionalInt.empty(), tokenizer.tokenId("no-such-token"));
        assertEquals(OptionalInt.of(1), tokenizer.bosTokenId());
        // generation_config.json lists both: the model ends a story with BOS
        assertArrayEquals(new int[] {2, 1}, tokenizer.eosTokenIds());
        assertTrue(tokenizer.isSpecial(1));
        assertFalse(tokenizer.isSpecial(403));
        assertEquals(OptionalInt.of(512), tokenizer.modelMaxLength());
    }

    @Test
    void encodesReferencePromptsLikeRunC() {
        for (JsonNode p : reference.get("prompts")) {
            String prompt = p.get("prompt").asText();
            int[] expected = ints(p.get("input_ids"));
            assertArrayEquals(expected, tokenizer.encode(prompt, true), "prompt '" + prompt + "'");
            assertArrayEquals(Arrays.copyOfRange(expected, 1, expected.length), tokenizer.encode(prompt, false),
                    "prompt '" + prompt + "' without special tokens");
        }
    }

    @Test
    void decodesReferenceOutputs() {
        for (JsonNode p : reference.get("prompts")) {
            int[] ids = concat(ints(p.get("input_ids")), ints(p.get("greedy_ids")));
            assertEquals(p.get("full_text").asText(), tokenizer.decode(ids, true));
            assertTrue(tokenizer.decode(ids, false).startsWith("<s>"));
        }
    }

    @Test
    void streamDecoderConcatenationEqualsFullDecode() {
        for (JsonNode p : reference.get("prompts")) {
            int[] prompt = ints(p.get("input_ids"));
            int[] all = concat(prompt, ints(p.get("greedy_ids_until_stop")));
            StreamDecoder fromStart = tokenizer.streamDecoder(true);
            StringBuilder streamed = new StringBuilder();
            for (int id : all) {
                streamed.append(fromStart.next(id));
            }
            streamed.append(fromStart.flush());
            assertEquals(tokenizer.decode(all, true), streamed.toString());

            // seeded with the prompt: only the generated text comes out, leading space included
            int[] generated = ints(p.get("greedy_ids"));
            StreamDecoder afterPrompt = tokenizer.streamDecoder(prompt, true);
            StringBuilder text = new StringBuilder(tokenizer.decode(prompt, true));
            for (int id : generated) {
                text.append(afterPrompt.next(id));
            }
            text.append(afterPrompt.flush());
            assertEquals(p.get("full_text").asText(), text.toString());
        }
    }

    @Test
    void byteFallbackCharactersStreamWhole() {
        String text = "Lily saw a 😀 and a é on the 🌳.";
        int[] ids = tokenizer.encode(text, true);
        long byteTokens = Arrays.stream(ids)
                .filter(id -> tokenizer.token(id).orElse("").startsWith("<0x")).count();
        assertTrue(byteTokens >= 8, "two 4-byte emoji should need byte-fallback tokens, got " + Arrays.toString(ids));
        assertEquals(text, tokenizer.decode(ids, true));

        StreamDecoder decoder = tokenizer.streamDecoder(true);
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            String piece = decoder.next(id);
            assertFalse(piece.contains("\uFFFD"), "half a character was emitted: " + pieces + " + " + piece);
            pieces.add(piece);
        }
        pieces.add(decoder.flush());
        assertEquals(text, String.join("", pieces));
        assertTrue(pieces.contains("😀") || pieces.stream().anyMatch(s -> s.endsWith("😀")), pieces.toString());
    }

    @Test
    void incompleteCharacterAtTheEndIsHeldUntilFlush() {
        int[] emoji = tokenizer.encode("😀", false);
        StreamDecoder decoder = tokenizer.streamDecoder(true);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < emoji.length - 1; i++) {
            out.append(decoder.next(emoji[i]));
        }
        assertFalse(out.toString().contains("\uFFFD"), out.toString());
        // the sequence ends mid-character: flush gives what a full decode gives
        String flushed = decoder.flush();
        assertEquals(tokenizer.decode(Arrays.copyOf(emoji, emoji.length - 1), true), out + flushed);
    }

    @Test
    void longInputIsNotTruncated() {
        String story = "Once upon a time there was a little dog. ".repeat(60);
        int[] ids = tokenizer.encode(story, true);
        assertTrue(ids.length > 512, "expected more than 512 tokens, got " + ids.length);
        assertEquals(story, tokenizer.decode(ids, true));
    }

    @Test
    void chatTemplateOutputEncodesWithoutASecondBos() {
        String prompt = ChatTemplate.fromModelDir(MODEL)
                .render(List.of(ChatMessage.user("Once upon a time")), true);
        int[] ids = tokenizer.encode(prompt, false);
        assertArrayEquals(ints(reference.get("prompts").get(0).get("input_ids")), ids);
    }
}
