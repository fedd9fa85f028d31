package dev.forgeline.datagen.importers;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.DatagenRequest.Format;
import dev.forgeline.datagen.importers.DatasetImporter.Imported;
import dev.forgeline.datagen.importers.DatasetImporter.MalformedLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.forgeline.contracts.ChatTurn.assistant;
import static dev.forgeline.contracts.ChatTurn.system;
import static dev.forgeline.contracts.ChatTurn.user;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DatasetImporterTest {

    @TempDir
    Path dir;

    /** Writes the lines to a file, as a user's upload would arrive, and imports it. */
    private Imported<Conversation> importFile(Format format, String... lines) throws IOException {
        Path file = dir.resolve(format.name().toLowerCase() + ".jsonl");
        Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        try (InputStream in = Files.newInputStream(file)) {
            return DatasetImporter.read(in, format);
        }
    }

    private static Imported<Conversation> importText(Format format, String text) throws IOException {
        return DatasetImporter.read(new java.io.ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), format);
    }

    private static Conversation conversation(ChatTurn... turns) {
        return new Conversation(List.of(turns));
    }

    @Test
    void alpacaJoinsInputAddsSystemAndHistoryAndReportsBadLines() throws IOException {
        Imported<Conversation> imported = importFile(Format.ALPACA,
                "{\"instruction\": \"  Translate to French.  \", \"input\": \"Good morning\", \"output\": \" Bonjour \"}",
                "{\"instruction\": \"Name a colour.\", \"input\": \"   \", \"output\": \"Blue\"}",
                "{\"instruction\": \"Broken\", \"output\": ",
                "{\"instruction\": \"No answer\", \"input\": \"\"}",
                "{\"instruction\": 42, \"output\": \"x\"}",
                "{\"system\": \"Be terse.\", \"instruction\": \"And 3+3?\", \"output\": \"6\","
                        + " \"history\": [[\"2+2?\", \"4\"]]}",
                "[1, 2]",
                "{\"instruction\": \"   \", \"output\": \"x\"}",
                "{\"instruction\": \"Q\", \"output\": \"A\", \"history\": [[\"only one\"]]}");

        assertEquals(List.of(
                conversation(user("Translate to French.\n\nGood morning"), assistant("Bonjour")),
                conversation(user("Name a colour."), assistant("Blue")),
                conversation(system("Be terse."), user("2+2?"), assistant("4"), user("And 3+3?"), assistant("6"))),
                imported.examples());
        assertEquals(List.of(3, 4, 5, 7, 8, 9), imported.malformed().stream().map(MalformedLine::line).toList());
        List<String> reasons = imported.malformed().stream().map(MalformedLine::reason).toList();
        assertEquals(true, reasons.get(0).startsWith("not JSON: "), reasons.get(0));
        assertEquals("missing \"output\"", reasons.get(1));
        assertEquals("\"instruction\" is not a string but a number", reasons.get(2));
        assertEquals("not an object but a list", reasons.get(3));
        assertEquals("\"instruction\" is blank", reasons.get(4));
        assertEquals("history[0]: not a [user, assistant] pair", reasons.get(5));
        assertEquals(9, imported.lines());
    }

    @Test
    void dollyJoinsContextAndIgnoresCategory() throws IOException {
        Imported<Conversation> imported = importFile(Format.DOLLY,
                "{\"instruction\": \"Who wrote it?\", \"context\": \"Hamlet is a play.\", \"response\": \"Shakespeare\","
                        + " \"category\": \"closed_qa\"}",
                "{\"instruction\": \"Give a tip.\", \"context\": \"\", \"response\": \"Sleep  well.\", \"category\": \"brainstorming\"}",
                "{\"instruction\": \"Q\", \"context\": \"\", \"output\": \"wrong field name\"}",
                "{\"instruction\": \"Q\", \"context\": [\"a\"], \"response\": \"A\"}",
                "not json at all");

        assertEquals(List.of(
                conversation(user("Who wrote it?\n\nHamlet is a play."), assistant("Shakespeare")),
                conversation(user("Give a tip."), assistant("Sleep  well."))),
                imported.examples());
        assertEquals(3, imported.malformed().size());
        assertEquals(new MalformedLine(3, "missing \"response\""), imported.malformed().get(0));
        assertEquals(new MalformedLine(4, "\"context\" is not a string but a list"), imported.malformed().get(1));
        assertEquals(5, imported.malformed().get(2).line());
        assertEquals(true, imported.malformed().get(2).reason().startsWith("not JSON: "));
    }

    @Test
    void shareGptMapsSpeakersAndNamesAnUnknownOne() throws IOException {
        Imported<Conversation> imported = importFile(Format.SHAREGPT,
                "{\"conversations\": [{\"from\": \"system\", \"value\": \"You help.\"},"
                        + " {\"from\": \"human\", \"value\": \"Hi \"}, {\"from\": \"gpt\", \"value\": \"Hello!\"},"
                        + " {\"from\": \"user\", \"value\": \"Bye\"}, {\"from\": \"chatgpt\", \"value\": \"See you\"}]}",
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"observation\", \"value\": \"x\"}]}",
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"bot\"}]}",
                "{\"messages\": []}",
                "{\"conversations\": \"hi\"}",
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"assistant\", \"value\": \"Yo\"}]}");

        assertEquals(List.of(
                conversation(system("You help."), user("Hi"), assistant("Hello!"), user("Bye"), assistant("See you")),
                conversation(user("Hi"), assistant("Yo"))),
                imported.examples());
        assertEquals(List.of(
                new MalformedLine(2, "conversations[1]: unknown \"from\" \"observation\""),
                new MalformedLine(3, "conversations[1]: missing \"value\""),
                new MalformedLine(4, "missing \"conversations\""),
                new MalformedLine(5, "\"conversations\" is not a list")),
                imported.malformed());
    }

    @Test
    void openAiKeepsRolesAndRejectsToolTurns() throws IOException {
        Imported<Conversation> imported = importFile(Format.OPENAI,
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be kind.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
                        + " {\"role\": \"assistant\", \"content\": \"Hello\\nthere \", \"weight\": 1}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather?\"}, {\"role\": \"tool\", \"content\": \"sunny\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": null,"
                        + " \"tool_calls\": []}]}",
                "{\"messages\": [\"user: hi\"]}",
                "{\"messages\": []}");

        assertEquals(List.of(conversation(system("Be kind."), user("Hi"), assistant("Hello\nthere"))),
                imported.examples());
        assertEquals(List.of(
                new MalformedLine(2, "messages[1]: unsupported role \"tool\""),
                new MalformedLine(3, "messages[1]: missing \"content\""),
                new MalformedLine(4, "messages[0]: not an object"),
                new MalformedLine(5, "\"messages\" is empty")),
                imported.malformed());
    }

    @Test
    void promptCompletionBecomesOneExchange() throws IOException {
        Imported<Conversation> imported = importFile(Format.PROMPT_COMPLETION,
                "{\"prompt\": \"The sky is\", \"completion\": \" blue.\"}",
                "{\"prompt\": \"The sea is\", \"completion\": true}",
                "{\"prompt\": \"A\", \"completion\": \"B\"} {\"prompt\": \"C\", \"completion\": \"D\"}",
                "{\"completion\": \"orphan\"}");

        assertEquals(List.of(conversation(user("The sky is"), assistant("blue."))), imported.examples());
        assertEquals(List.of(
                new MalformedLine(2, "\"completion\" is not a string but a boolean"),
                new MalformedLine(3, "not JSON: more than one value on the line"),
                new MalformedLine(4, "missing \"prompt\"")),
                imported.malformed());
    }

    @Test
    void blankLinesAreSkippedButCounted() throws IOException {
        Imported<Conversation> imported = importText(Format.PROMPT_COMPLETION,
                "\n  \n{\"prompt\": \"p1\", \"completion\": \"c1\"}\r\n\r\n{\"prompt\": \"p2\"}\n\t\n"
                        + "{\"prompt\": \"p3\", \"completion\": \"c3\"}\n\n");

        assertEquals(List.of(
                conversation(user("p1"), assistant("c1")),
                conversation(user("p3"), assistant("c3"))),
                imported.examples());
        assertEquals(List.of(new MalformedLine(5, "missing \"completion\"")), imported.malformed());
        assertEquals(8, imported.lines());
    }

    @Test
    void windowsLineBreaksCountOnceEvenBeforeTheFirstObject() throws IOException {
        Imported<Conversation> imported = importText(Format.PROMPT_COMPLETION,
                "\r\n\r\n{\"prompt\": \"p\"}\r\n{\"prompt\": \"q\", \"completion\": \"r\"}\r\n");

        assertEquals(List.of(conversation(user("q"), assistant("r"))), imported.examples());
        assertEquals(List.of(new MalformedLine(3, "missing \"completion\"")), imported.malformed());
        assertEquals(4, imported.lines());
    }

    @Test
    void aJsonArrayIsReadElementByElement() throws IOException {
        Imported<Conversation> imported = importText(Format.ALPACA, """

                  [
                    {"instruction": "Say hi", "output": "Hi"},
                    {"instruction": "Say bye"},
                    "just text",
                    {"instruction": "Count", "input": "1, 2", "output": "3"}
                  ]
                """);

        assertEquals(List.of(
                conversation(user("Say hi"), assistant("Hi")),
                conversation(user("Count\n\n1, 2"), assistant("3"))),
                imported.examples());
        assertEquals(List.of(
                new MalformedLine(2, "missing \"output\""),
                new MalformedLine(3, "not an object but a string")),
                imported.malformed());
        assertEquals(4, imported.lines());
    }

    @Test
    void aBrokenJsonArrayKeepsTheElementsBeforeTheBreak() throws IOException {
        Imported<Conversation> imported = importText(Format.PROMPT_COMPLETION,
                "[{\"prompt\": \"a\", \"completion\": \"b\"}, {\"prompt\": \"c\", \"completion\": }, {\"prompt\": \"e\"}]");

        assertEquals(List.of(conversation(user("a"), assistant("b"))), imported.examples());
        assertEquals(1, imported.malformed().size());
        MalformedLine broken = imported.malformed().get(0);
        assertEquals(2, broken.line());
        assertEquals(true, broken.reason().startsWith("not JSON: ") && broken.reason().endsWith("(rest of the array not read)"),
                broken.reason());
        assertEquals(2, imported.lines());
    }

    @Test
    void anUnclosedArrayIsReported() throws IOException {
        Imported<Conversation> imported = importText(Format.PROMPT_COMPLETION, "[{\"prompt\": \"a\", \"completion\": \"b\"},\n");

        assertEquals(List.of(conversation(user("a"), assistant("b"))), imported.examples());
        assertEquals(2, imported.malformed().get(0).line());
        assertEquals(true, imported.malformed().get(0).reason().startsWith("not JSON: "));
    }

    @Test
    void emptyAndBlankInputsHaveNoExamples() throws IOException {
        assertEquals(new Imported<Conversation>(List.of(), List.of(), 0), importText(Format.OPENAI, ""));
        assertEquals(new Imported<Conversation>(List.of(), List.of(), 3), importText(Format.OPENAI, "\n \n  "));
        assertEquals(new Imported<Conversation>(List.of(), List.of(), 0), importText(Format.OPENAI, "[]"));
    }

    @Test
    void aByteOrderMarkIsIgnored() throws IOException {
        Imported<Conversation> imported = importText(Format.PROMPT_COMPLETION, "\uFEFF{\"prompt\": \"p\", \"completion\": \"c\"}\n");

        assertEquals(List.of(conversation(user("p"), assistant("c"))), imported.examples());
        assertEquals(List.of(), imported.malformed());
        assertEquals(1, imported.lines());
    }

    @Test
    void aReadFailureIsAnIOException() {
        InputStream failing = new InputStream() {
            @Override
            public int read() throws IOException {
                throw new IOException("disk gone");
            }
        };
        IOException thrown = assertThrows(IOException.class, () -> DatasetImporter.read(failing, Format.ALPACA));
        assertEquals("disk gone", thrown.getMessage());
    }
}
