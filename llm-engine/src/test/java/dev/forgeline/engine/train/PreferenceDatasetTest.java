package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.engine.tokenizer.ChatMessage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TRL's preference shapes and OpenAI's DPO lines are read; malformed lines fail with their line number. */
class PreferenceDatasetTest {

    @TempDir
    Path dir;

    @Test
    void readsStandardAndConversationalLines() throws Exception {
        Path f = Files.writeString(dir.resolve("p.jsonl"), String.join("\n",
                "{\"prompt\": \"Sky?\", \"chosen\": \"blue\", \"rejected\": \"cat\"}",
                "",
                "{\"prompt\": [{\"role\": \"system\", \"content\": \"Be short.\"}, {\"role\": \"user\", \"content\": \"Grass?\"}],"
                        + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"green\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"dog\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"},"
                        + " {\"role\": \"user\", \"content\": \"Sun?\"}], \"chosen\": {\"role\": \"assistant\", \"content\": \"yellow\"},"
                        + " \"rejected\": \"cow\"}"));
        List<PreferenceExample> pairs = PreferenceDataset.read(f);
        assertEquals(3, pairs.size());
        assertEquals(List.of(ChatMessage.user("Sky?")), pairs.get(0).prompt());
        assertEquals(ChatMessage.assistant("blue"), pairs.get(0).chosen());
        assertEquals(List.of(ChatMessage.system("Be short."), ChatMessage.user("Grass?")), pairs.get(1).prompt());
        assertEquals(ChatMessage.assistant("dog"), pairs.get(1).rejected());
        assertEquals(3, pairs.get(2).prompt().size());
        assertEquals("yellow", pairs.get(2).chosen().content());
    }

    /** OpenAI's DPO fine-tuning lines: input.messages (tools ignored), preferred_output, non_preferred_output. */
    @Test
    void readsOpenAiDpoLines() throws Exception {
        Path f = Files.writeString(dir.resolve("openai.jsonl"), String.join("\n",
                "{\"input\": {\"messages\": [{\"role\": \"system\", \"content\": \"Be short.\"},"
                        + " {\"role\": \"user\", \"content\": \"Sky?\"}], \"tools\": [], \"parallel_tool_calls\": true},"
                        + " \"preferred_output\": [{\"role\": \"assistant\", \"content\": \"blue\"}],"
                        + " \"non_preferred_output\": [{\"role\": \"assistant\", \"content\": \"cat\"}]}"));
        List<PreferenceExample> pairs = PreferenceDataset.read(f);
        assertEquals(1, pairs.size());
        assertEquals(List.of(ChatMessage.system("Be short."), ChatMessage.user("Sky?")), pairs.get(0).prompt());
        assertEquals(ChatMessage.assistant("blue"), pairs.get(0).chosen());
        assertEquals(ChatMessage.assistant("cat"), pairs.get(0).rejected());
    }

    @Test
    void malformedLinesNameTheirNumberAndTheFault() throws Exception {
        String good = "{\"prompt\": \"Sky?\", \"chosen\": \"blue\", \"rejected\": \"cat\"}";
        List<String[]> cases = List.of(
                new String[] {"{\"prompt\": \"Sky?\", \"chosen\": \"blue\"}", "missing \"rejected\""},
                new String[] {"{\"chosen\": \"a\", \"rejected\": \"b\"}", "missing \"prompt\""},
                new String[] {"{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}],"
                        + " \"chosen\": \"x\", \"rejected\": \"y\"}", "must end with a user turn"},
                new String[] {"{\"prompt\": \"q\", \"chosen\": [{\"role\": \"user\", \"content\": \"x\"}], \"rejected\": \"y\"}",
                        "chosen[0].role must be assistant"},
                new String[] {"{\"prompt\": \"q\", \"chosen\": \"x\", \"rejected\": 3}", "\"rejected\" must be a string"},
                new String[] {"not json", "not valid JSON"},
                new String[] {"{\"input\": {\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]},"
                        + " \"preferred_output\": [{\"role\": \"assistant\", \"content\": \"x\"}]}", "missing \"non_preferred_output\""},
                new String[] {"{\"input\": [], \"preferred_output\": \"x\", \"non_preferred_output\": \"y\"}",
                        "missing \"input\": {\"messages\""},
                new String[] {"{\"input\": {\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]},"
                        + " \"preferred_output\": [{\"role\": \"assistant\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"z\"}],"
                        + " \"non_preferred_output\": \"y\"}", "\"preferred_output\" must hold exactly one assistant message"});
        for (String[] c : cases) {
            Path f = Files.writeString(dir.resolve("bad.jsonl"), good + "\n" + good + "\n" + c[0] + "\n");
            DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.read(f));
            assertTrue(e.getMessage().startsWith("bad.jsonl:3: "), e.getMessage());
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
        Path empty = Files.writeString(dir.resolve("empty.jsonl"), "\n\n");
        assertThrows(DatasetException.class, () -> PreferenceDataset.read(empty));
    }
}
