package dev.forgeline.datagen.cleaning;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ExampleCheckTest {
    private static final ExampleCheck CHECK = ExampleCheck.defaults();
    private static final String INSTRUCTIONS = "Write one new training example for this task. Task: answer questions about"
            + " the solar system in two sentences, with a number in each answer.";

    private static Optional<Rejection> check(ChatTurn... turns) {
        return CHECK.check(new Conversation(List.of(turns)), INSTRUCTIONS);
    }

    @Test
    void keepsAGoodExample() {
        assertEquals(Optional.empty(), check(ChatTurn.system("You answer."), ChatTurn.user("How far is Mars?"),
                ChatTurn.assistant("About 225 million km on average. Sorry if you hoped for a closer figure!")));
        assertEquals(Optional.empty(), check(ChatTurn.user("Hi?"), ChatTurn.assistant("Hello."), ChatTurn.user("Moons of Mars?"),
                ChatTurn.assistant("Two: Phobos and Deimos.")), "several turns");
    }

    @Test
    void rejectsEachReasonInOrder() {
        assertEquals(Optional.of(Rejection.EMPTY), CHECK.check(new Conversation(List.of()), null));
        assertEquals(Optional.of(Rejection.EMPTY), check(ChatTurn.user("Hi?"), ChatTurn.assistant("  ")));
        assertEquals(Optional.of(Rejection.EMPTY), check(ChatTurn.user("Hi?"), ChatTurn.user("Anyone?")));
        assertEquals(Optional.of(Rejection.BAD_ROLES), check(ChatTurn.assistant("Hello."), ChatTurn.user("Hi?")));
        assertEquals(Optional.of(Rejection.BAD_ROLES), check(ChatTurn.user("Hi?"), ChatTurn.assistant("Hello."), ChatTurn.user("More?")));
        assertEquals(Optional.of(Rejection.BAD_ROLES), check(ChatTurn.user("Hi?"), new ChatTurn("tool", "x"), ChatTurn.assistant("Hello.")));
        assertEquals(Optional.of(Rejection.TOO_SHORT), check(ChatTurn.user("?"), ChatTurn.assistant("Hello.")));
        assertEquals(Optional.of(Rejection.TOO_LONG), check(ChatTurn.user("Hi?"), ChatTurn.assistant("a".repeat(16_001))));
        assertEquals(Optional.of(Rejection.REFUSAL), check(ChatTurn.user("Help?"),
                ChatTurn.assistant("I’m sorry, but I can’t help with that.")));
        assertEquals(Optional.of(Rejection.REFUSAL), check(ChatTurn.user("Help?"),
                ChatTurn.assistant("As an AI language model, I have no opinions.")));
        assertEquals(Optional.of(Rejection.ECHO), check(ChatTurn.user(INSTRUCTIONS), ChatTurn.assistant("Sure.")));
        assertEquals(Optional.of(Rejection.ECHO), check(ChatTurn.user("What is it?"), ChatTurn.assistant(
                "Task: answer questions about the solar system in two sentences, with a number in each answer.")));
    }

    @Test
    void aShortOverlapWithTheTaskIsNoEcho() {
        assertEquals(Optional.empty(), check(ChatTurn.user("Answer questions about the solar system: how many planets?"),
                ChatTurn.assistant("Eight planets orbit the Sun, the largest being Jupiter with 79 known moons.")));
        assertEquals(Optional.empty(), CHECK.check(new Conversation(List.of(ChatTurn.user(INSTRUCTIONS), ChatTurn.assistant("Ok."))),
                null), "no instructions, no echo check");
    }
}
