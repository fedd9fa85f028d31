package dev.forgeline.datagen.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ExampleParserTest {
    private static final Conversation HELLO = new Conversation(List.of(ChatTurn.user("Hi?"), ChatTurn.assistant("Hello.")));

    @Test
    void readsMessagesInTheShapesTeachersWrite() {
        assertEquals(Optional.of(HELLO), ExampleParser.example(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi?\"}, {\"role\": \"assistant\", \"content\": \" Hello.\\n\"}]}"));
        assertEquals(Optional.of(HELLO), ExampleParser.example(
                "Here it is:\n```json\n[{\"role\": \"User\", \"content\": \"Hi?\"}, {\"role\": \"assistant\", \"content\": \"Hello.\"}]\n```"));
        assertEquals(Optional.of(HELLO), ExampleParser.example("Sure! {\"prompt\": \"Hi?\", \"response\": \"Hello.\"} Enjoy."));
        assertEquals(Optional.of(HELLO), ExampleParser.example("{\"question\": \"Hi?\", \"answer\": \"Hello.\"}"));
    }

    @Test
    void whatCannotBeReadIsUnparseable() {
        assertTrue(ExampleParser.example("{\"messages\": [{\"role\": \"user\", \"content\": \"cut off").isEmpty());
        assertTrue(ExampleParser.example("Once upon a time there was no JSON.").isEmpty());
        assertTrue(ExampleParser.example("{\"messages\": [{\"role\": \"user\", \"content\": 3}]}").isEmpty());
        assertTrue(ExampleParser.example("{\"prompt\": \"Hi?\"}").isEmpty());
        assertTrue(ExampleParser.example("{\"messages\": []}").isEmpty());
        assertTrue(ExampleParser.example(null).isEmpty());
    }

    @Test
    void topicsFromJsonOrLines() {
        assertEquals(List.of("rivers", "cities"), ExampleParser.topics("{\"topics\": [\"rivers\", \" cities \", \"\"]}"));
        assertEquals(List.of("rivers", "cities"), ExampleParser.topics("[\"rivers\", \"cities\"]"));
        assertEquals(List.of("rivers", "cities", "food"), ExampleParser.topics("1. rivers\n2) cities\n\n- food"));
    }
}
