package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.tokenizer.ChatMessage;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatEncoderTest {

    private static Tokenizer tokenizer;
    private static ChatTemplate template;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        Path dir = SharedData.model("stories260k");
        tokenizer = Tokenizer.load(dir);
        template = ChatTemplate.fromModelDir(dir);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static int[] targets(EncodedExample e) {
        return java.util.stream.IntStream.range(0, e.length()).filter(i -> e.target()[i]).map(i -> e.ids()[i]).toArray();
    }

    @Test
    void assistantRepliesAreTheOnlyTargetsAndEndWithEos() {
        ChatExample e = ChatExample.of(ChatMessage.system("Be short."), ChatMessage.user("Hi there"),
                ChatMessage.assistant("Hello friend"), ChatMessage.user("Bye"), ChatMessage.assistant("See you"));
        EncodedExample enc = new ChatEncoder(tokenizer, template, 512, true).encode(e);
        int eos = tokenizer.tokenId("</s>").orElseThrow();
        String text = tokenizer.decode(enc.ids(), false);
        // The template concatenates contents (its newline sits right after a block tag, which
        // trim_blocks removes, as in transformers) and never emits </s>: one is inserted after each reply.
        assertEquals("<s>Be short.Hi thereHello friend</s>ByeSee you</s>", text.replace("<s> ", "<s>"));
        String targetText = tokenizer.decode(targets(enc), false);
        assertEquals("Hello friend</s>See you</s>", targetText.replace("</s> ", "</s>").strip());
        assertEquals(2, Arrays.stream(enc.ids()).filter(id -> id == eos).count());
        // The prompt a server sends (generation prompt) is a prefix of the training sequence.
        int[] prompt = tokenizer.encode(template.render(e.messages().subList(0, 2), true), false);
        assertArrayEquals(prompt, Arrays.copyOf(enc.ids(), prompt.length));
    }

    @Test
    void templateThatEndsTurnsKeepsItsOwnEnd() {
        ChatTemplate withEnd = ChatTemplate.of(
                "{% for m in messages %}{{ m['content'] }}{% if m['role'] == 'assistant' %}</s>{% endif %}\n{% endfor %}",
                "<s>", "</s>");
        EncodedExample enc = new ChatEncoder(tokenizer, withEnd, 512, true)
                .encode(ChatExample.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello")));
        String targetText = tokenizer.decode(targets(enc), false);
        assertTrue(targetText.startsWith("Hello</s>"), targetText);
        assertEquals(1, Arrays.stream(enc.ids()).filter(id -> id == 2).count());
    }

    @Test
    void truncationKeepsThePrefixAndDropsExamplesWithoutTargets() {
        ChatEncoder encoder = new ChatEncoder(tokenizer, template, 12, true);
        ChatExample longPrompt = ChatExample.of(ChatMessage.user("Once upon a time there was a very long prompt"),
                ChatMessage.assistant("ok"));
        ChatExample shortOne = ChatExample.of(ChatMessage.user("Hi"),
                ChatMessage.assistant("Hello there my friend, how are you doing today?"));
        ChatEncoder.Stats[] stats = new ChatEncoder.Stats[1];
        List<EncodedExample> out = encoder.encodeAll(List.of(longPrompt, shortOne), stats);
        assertEquals(1, out.size());
        assertEquals(12, out.get(0).length());
        assertEquals(new ChatEncoder.Stats(2, 1, 1, 1, 12, out.get(0).targetCount()), stats[0]);
    }

    @Test
    void allTokensModeTrainsOnEverythingButTheFirst() {
        EncodedExample enc = new ChatEncoder(tokenizer, template, 512, false)
                .encode(ChatExample.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello")));
        assertEquals(enc.length() - 1, enc.targetCount());
        assertTrue(!enc.target()[0]);
    }

    @Test
    void malformedLinesFailWithTheirLineNumber() throws Exception {
        Path f = tmp.resolve("train.jsonl");
        Files.writeString(f, """
                {"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}

                {"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}
                """);
        DatasetException e = assertThrows(DatasetException.class, () -> ChatDataset.read(f));
        assertTrue(e.getMessage().startsWith("train.jsonl:3: not valid JSON"), e.getMessage());

        Files.writeString(f, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n");
        e = assertThrows(DatasetException.class, () -> ChatDataset.read(f));
        assertTrue(e.getMessage().contains("train.jsonl:1: no assistant message"), e.getMessage());

        Files.writeString(f, "{\"messages\":[{\"role\":\"robot\",\"content\":\"a\"}]}\n");
        e = assertThrows(DatasetException.class, () -> ChatDataset.read(f));
        assertTrue(e.getMessage().contains("train.jsonl:1: messages[0].role"), e.getMessage());

        Files.writeString(f, "\n\n");
        e = assertThrows(DatasetException.class, () -> ChatDataset.read(f));
        assertTrue(e.getMessage().contains("holds no examples"), e.getMessage());

        e = assertThrows(DatasetException.class, () -> ChatDataset.read(tmp.resolve("missing.jsonl")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void printsAnEncodedExampleOfTheLearningTask() {
        EncodedExample enc = new ChatEncoder(tokenizer, template, 512, true).encode(AnimalSounds.train().get(0));
        System.out.println("learning-task example: " + enc.length() + " tokens, targets '"
                + tokenizer.decode(targets(enc), false) + "'");
    }
}
