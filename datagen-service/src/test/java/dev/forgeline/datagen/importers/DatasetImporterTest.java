package dev.forgeline.datagen.importers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.DatagenRequest.Format;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetImporterTest {

    private static DatasetImporter.Imported read(Format format, String... lines) throws Exception {
        return DatasetImporter.read(new ByteArrayInputStream(String.join("\n", lines).getBytes(StandardCharsets.UTF_8)), format);
    }

    private static Conversation chat(ChatTurn... turns) {
        return new Conversation(List.of(turns));
    }

    private static void assertMalformed(DatasetImporter.Imported imported, int[] lines, String... reasonParts) {
        assertEquals(lines.length, imported.malformed().size(), "malformed: " + imported.malformed());
        for (int i = 0; i < lines.length; i++) {
            assertEquals(lines[i], imported.malformed().get(i).line());
            assertTrue(imported.malformed().get(i).reason().contains(reasonParts[i]), imported.malformed().get(i).reason());
        }
    }

    @Test
    void alpaca() throws Exception {
        DatasetImporter.Imported in = read(Format.ALPACA,
                "{\"instruction\": \"Translate.\", \"input\": \"cat\", \"output\": \" chat \"}",
                "",
                "{\"instruction\": \"Name a fruit.\", \"input\": \"\", \"output\": \"Apple.\", \"system\": \"Be brief.\","
                        + " \"history\": [[\"Hi\", \"Hello\"]]}",
                "{\"instruction\": \"No answer.\"}",
                "{\"instruction\": 3, \"output\": \"x\"}",
                "{broken");
        assertEquals(List.of(chat(ChatTurn.user("Translate.\n\ncat"), ChatTurn.assistant("chat")),
                chat(ChatTurn.system("Be brief."), ChatTurn.user("Hi"), ChatTurn.assistant("Hello"), ChatTurn.user("Name a fruit."),
                        ChatTurn.assistant("Apple."))), in.examples());
        assertMalformed(in, new int[] {4, 5, 6}, "missing \"output\"", "\"instruction\" is not a string", "not JSON");
        assertEquals(6, in.lines());
    }

    @Test
    void dolly() throws Exception {
        DatasetImporter.Imported in = read(Format.DOLLY,
                "{\"instruction\": \"Summarize.\", \"context\": \"Long text.\", \"response\": \"Short.\", \"category\": \"summarization\"}",
                "{\"instruction\": \"Why?\", \"context\": \"\", \"response\": \"Because.\"}",
                "{\"instruction\": \"Why?\", \"response\": \"\"}");
        assertEquals(List.of(chat(ChatTurn.user("Summarize.\n\nLong text."), ChatTurn.assistant("Short.")),
                chat(ChatTurn.user("Why?"), ChatTurn.assistant("Because."))), in.examples());
        assertMalformed(in, new int[] {3}, "\"response\" is empty");
    }

    @Test
    void shareGpt() throws Exception {
        DatasetImporter.Imported in = read(Format.SHAREGPT,
                "{\"conversations\": [{\"from\": \"system\", \"value\": \"S\"}, {\"from\": \"human\", \"value\": \"Hi\"},"
                        + " {\"from\": \"gpt\", \"value\": \"Hello\"}]}",
                "{\"conversations\": [{\"from\": \"narrator\", \"value\": \"x\"}]}",
                "{\"conversation\": []}",
                "[1, 2]");
        assertEquals(List.of(chat(ChatTurn.system("S"), ChatTurn.user("Hi"), ChatTurn.assistant("Hello"))), in.examples());
        assertMalformed(in, new int[] {2, 3, 4}, "unknown \"from\": \"narrator\"", "missing \"conversations\"", "not a JSON object");
    }

    @Test
    void openAiAndPromptCompletion() throws Exception {
        DatasetImporter.Imported chat = read(Format.OPENAI,
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\", \"weight\": 1}]}",
                "{\"messages\": [{\"role\": \"tool\", \"content\": \"{}\"}]}");
        assertEquals(List.of(chat(ChatTurn.user("Hi"), ChatTurn.assistant("Hello"))), chat.examples());
        assertMalformed(chat, new int[] {2}, "role \"tool\"");

        DatasetImporter.Imported pc = read(Format.PROMPT_COMPLETION, "{\"prompt\": \"2+2=\", \"completion\": \"4\"}", "\"text\"");
        assertEquals(List.of(chat(ChatTurn.user("2+2="), ChatTurn.assistant("4"))), pc.examples());
        assertMalformed(pc, new int[] {2}, "not a JSON object");
    }

    @Test
    void aJsonArrayCountsElements() throws Exception {
        DatasetImporter.Imported in = read(Format.ALPACA, "[", "{\"instruction\": \"A\", \"output\": \"B\"},",
                "{\"instruction\": \"C\"}", "]");
        assertEquals(List.of(chat(ChatTurn.user("A"), ChatTurn.assistant("B"))), in.examples());
        assertMalformed(in, new int[] {2}, "missing \"output\"");
        assertEquals(2, in.lines());
    }
}
