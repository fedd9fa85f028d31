package dev.forgeline.contracts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link PreferenceLine}: TRL's standard and conversational shapes in, the conversational shape out, and each fault. */
class PreferenceLineTest {

    @Test
    void readsBothShapesAndWritesTheConversationalOne() {
        PreferenceLine standard = PreferenceLine.parse("{\"prompt\": \"Sky?\", \"chosen\": \"blue\", \"rejected\": \"cat\"}");
        assertEquals(new PreferenceLine(List.of(ChatTurn.user("Sky?")), ChatTurn.assistant("blue"), ChatTurn.assistant("cat")),
                standard);
        PreferenceLine conversational = PreferenceLine.parse("{\"messages\": [{\"role\": \"system\", \"content\": \"Be short.\"},"
                + " {\"role\": \"user\", \"content\": \"Grass?\"}], \"chosen\": {\"role\": \"assistant\", \"content\": \"green\"},"
                + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"dog\"}]}");
        assertEquals(List.of(ChatTurn.system("Be short."), ChatTurn.user("Grass?")), conversational.prompt());
        String written = ContractsJson.write(conversational.toJson());
        assertEquals("{\"prompt\":[{\"role\":\"system\",\"content\":\"Be short.\"},{\"role\":\"user\",\"content\":\"Grass?\"}],"
                + "\"chosen\":[{\"role\":\"assistant\",\"content\":\"green\"}],"
                + "\"rejected\":[{\"role\":\"assistant\",\"content\":\"dog\"}]}", written);
        assertEquals(conversational, PreferenceLine.parse(written));
    }

    @Test
    void eachFaultIsNamed() {
        String[][] cases = {
                {"{\"prompt\": \"q\", \"chosen\": \"x\"}", "missing \"rejected\""},
                {"{\"chosen\": \"a\", \"rejected\": \"b\"}", "missing \"prompt\""},
                {"{\"prompt\": [], \"chosen\": \"a\", \"rejected\": \"b\"}", "\"prompt\" must be a string or a non-empty array"},
                {"{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}],"
                        + " \"chosen\": \"x\", \"rejected\": \"y\"}", "\"prompt\" must end with a user turn, ends with assistant"},
                {"{\"prompt\": [{\"role\": \"robot\", \"content\": \"q\"}], \"chosen\": \"x\", \"rejected\": \"y\"}",
                        "prompt[0].role must be one of [assistant, system, tool, user]"},
                {"{\"prompt\": \"q\", \"chosen\": [{\"role\": \"user\", \"content\": \"x\"}], \"rejected\": \"y\"}",
                        "chosen[0].role must be assistant"},
                {"{\"prompt\": \"q\", \"chosen\": [], \"rejected\": \"y\"}", "\"chosen\" must hold exactly one assistant message, holds 0"},
                {"{\"prompt\": \"q\", \"chosen\": {\"role\": \"assistant\", \"content\": 3}, \"rejected\": \"y\"}",
                        "chosen.content must be a string"},
                {"{\"prompt\": \"q\", \"chosen\": \"x\", \"rejected\": 3}", "\"rejected\" must be a string or an assistant message"},
                {"[1]", "expected an object"},
                {"{\"prompt\": \"q\"} {}", "not valid JSON"},
                {"not json", "not valid JSON"}};
        for (String[] c : cases) {
            PreferenceLine.Invalid e = assertThrows(PreferenceLine.Invalid.class, () -> PreferenceLine.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
    }
}
