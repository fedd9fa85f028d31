package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static dev.forgeline.contracts.ChatTurn.assistant;
import static dev.forgeline.contracts.ChatTurn.system;
import static dev.forgeline.contracts.ChatTurn.user;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ExampleCheckTest {
    private final ExampleCheck check = ExampleCheck.defaults();

    private static Conversation chat(ChatTurn... turns) {
        return new Conversation(Arrays.asList(turns));
    }

    private Optional<Rejection> judge(Conversation c) {
        return check.check(c, null);
    }

    private static final Conversation GOOD = chat(system("You are terse."), user("What is 2 + 2?"), assistant("4, of course."));

    @Test
    void defaultsAreTwoAndSixteenThousand() {
        assertEquals(2, check.minChars());
        assertEquals(16_000, check.maxChars());
        assertThrows(IllegalArgumentException.class, () -> new ExampleCheck(10, 5));
    }

    @Test
    void goodExamplesPass() {
        assertEquals(Optional.empty(), judge(GOOD));
        assertEquals(Optional.empty(), judge(chat(user("hi there"), assistant("Hello!"))));
        assertEquals(Optional.empty(), judge(chat(user("a?"), assistant("b."), user("and c?"), assistant("c."))));
    }

    @Test
    void empty() {
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat()));
        assertEquals(Optional.of(Rejection.EMPTY), judge(null));
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat(user("question?"), assistant("   \n"))));
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat(user("question?"), new ChatTurn("assistant", null))));
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat(system("sys"), user("only a question"))));
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat(assistant("only an answer"))));
        // a blank system prompt is a blank message too
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat(system(" "), user("q?"), assistant("a."))));
    }

    @Test
    void badRoles() {
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(assistant("Hello!"), user("hi there"))));
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(user("q1?"), assistant("a1."), user("q2?"))));
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(user("q1?"), user("q2?"), assistant("a."))));
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(user("q?"), system("late system"), assistant("a."))));
        assertEquals(Optional.of(Rejection.BAD_ROLES),
                judge(chat(user("q?"), new ChatTurn("tool", "{}"), assistant("a."))));
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(new ChatTurn("User", "q?"), user("q?"), assistant("a."))));
        // one system message first is allowed, two are not
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(system("s1"), system("s2"), user("q?"), assistant("a."))));
    }

    @Test
    void tooShort() {
        assertEquals(Optional.of(Rejection.TOO_SHORT), judge(chat(user("?"), assistant("A fine answer."))));
        assertEquals(Optional.of(Rejection.TOO_SHORT), judge(chat(user("A fine question?"), assistant(" 4 "))));
        // the system prompt has no lower bound
        assertEquals(Optional.empty(), judge(chat(system("x"), user("ok"), assistant("no"))));
        ExampleCheck strict = new ExampleCheck(10, 1000);
        assertEquals(Optional.of(Rejection.TOO_SHORT), strict.check(chat(user("123456789"), assistant("0123456789")), null));
        assertEquals(Optional.empty(), strict.check(chat(user("0123456789"), assistant("0123456789")), null));
    }

    @Test
    void tooLongCountsTheWholeExample() {
        String half = "x".repeat(8_000);
        assertEquals(Optional.empty(), judge(chat(user(half), assistant(half))));
        assertEquals(Optional.of(Rejection.TOO_LONG), judge(chat(user(half), assistant(half + "y"))));
        assertEquals(Optional.of(Rejection.TOO_LONG), judge(chat(system("s"), user(half), assistant(half))));
        ExampleCheck small = new ExampleCheck(2, 20);
        assertEquals(Optional.of(Rejection.TOO_LONG), small.check(chat(user("0123456789"), assistant("0123456789!")), null));
        // an emoji is one character, not two UTF-16 units
        assertEquals(Optional.empty(), small.check(chat(user("0123456789"), assistant("012345678\uD83D\uDE00")), null));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "I'm sorry, but I can't help with that request.",
            "I\u2019m sorry, but I can\u2019t do that.",
            "i'm sorry but i cannot provide that information",
            "I cannot help with creating malware.",
            "I can't assist with that.",
            "As an AI language model, I don't have opinions.",
            "Unfortunately, I cannot help with this.",
            "**I'm sorry, but I can't** share that.",
            "I apologize, but I can't write that essay for you."})
    void refusals(String answer) {
        assertEquals(Optional.of(Rejection.REFUSAL), judge(chat(user("Please do the thing."), assistant(answer))));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "Sorry for the wait! Here is the recipe: mix flour and water, then bake for 20 minutes.",
            "Sure. Step one is to open the settings. If it fails, I'm sorry, but I can't see your screen, so check the logs.",
            "The function returns null when the key is missing; I cannot stress enough how common that bug is.",
            "Yes: use a HashMap. I'm sorry to say the TreeMap is slower here.",
            "To decline a meeting politely, thank the organizer, then say 'I'm sorry, but I can't make it' and offer another time."})
    void politeAnswersAreNotRefusals(String answer) {
        assertEquals(Optional.empty(), judge(chat(user("Please do the thing."), assistant(answer))));
    }

    @Test
    void refusalOnlyCountsInAssistantMessages() {
        assertEquals(Optional.empty(), judge(chat(user("I'm sorry, but I can't find my keys. Ideas?"), assistant("Check your coat."))));
        assertEquals(Optional.of(Rejection.REFUSAL), judge(chat(user("q1?"), assistant("Here you go."), user("q2?"),
                assistant("I'm sorry, but I can't continue."))));
    }

    private static final String INSTRUCTIONS = "Task: answer customer questions about the Acme billing API.\n"
            + "You write training examples for a small model. Write one realistic user request and the ideal "
            + "assistant answer, in JSON with a messages array of user and assistant turns.";

    @Test
    void echoOfTheWholeInstructions() {
        Conversation c = chat(user(INSTRUCTIONS.toUpperCase()), assistant("Okay, here is an example."));
        assertEquals(Optional.of(Rejection.ECHO), check.check(c, INSTRUCTIONS));
    }

    @Test
    void echoOfALongPart() {
        String part = "Write one realistic user request and the ideal assistant answer, in JSON with a messages array";
        assertEquals(Optional.of(Rejection.ECHO), check.check(chat(user("How do I refund an invoice?"), assistant(part)), INSTRUCTIONS));
        // the instructions wrapped in a little text of its own
        String wrapped = "Sure! " + INSTRUCTIONS + " Done.";
        assertEquals(Optional.of(Rejection.ECHO), check.check(chat(user("Go ahead."), assistant(wrapped)), INSTRUCTIONS));
    }

    @Test
    void noEchoForRealExamplesOrWithoutInstructions() {
        Conversation real = chat(user("How do I refund an invoice with the Acme billing API?"),
                assistant("Call POST /v1/refunds with the invoice id and the amount in cents; the refund shows up within a day."));
        assertEquals(Optional.empty(), check.check(real, INSTRUCTIONS));
        // a short turn made of prompt words is not an echo
        assertEquals(Optional.empty(), check.check(chat(user("Write one realistic user request"), assistant("Refund my invoice.")),
                INSTRUCTIONS));
        Conversation echo = chat(user(INSTRUCTIONS), assistant("Okay."));
        assertEquals(Optional.empty(), check.check(echo, null));
        assertEquals(Optional.of(Rejection.ECHO), check.check(echo, INSTRUCTIONS));
    }

    @Test
    void shortInstructionsRepeatedExactly() {
        assertEquals(Optional.of(Rejection.ECHO), check.check(chat(user("Summarize emails."), assistant("summarize emails")),
                "Summarize emails"));
    }

    @Test
    void checksRunInOrder() {
        // empty beats bad roles, bad roles beats too short, too short beats refusal, refusal beats echo
        assertEquals(Optional.of(Rejection.EMPTY), judge(chat(assistant(""), user("q?"))));
        assertEquals(Optional.of(Rejection.BAD_ROLES), judge(chat(assistant("x"), user("y"))));
        assertEquals(Optional.of(Rejection.TOO_SHORT), judge(chat(user("?"), assistant("I'm sorry, but I can't."))));
        String refusingEcho = "I'm sorry, but I can't. " + INSTRUCTIONS;
        assertEquals(Optional.of(Rejection.REFUSAL), check.check(chat(user("Go."), assistant(refusingEcho)), INSTRUCTIONS));
        assertEquals(Optional.of(Rejection.TOO_LONG),
                new ExampleCheck(2, 30).check(chat(user("Go."), assistant("I'm sorry, but I can't do that at all.")), null));
    }

    @Test
    void keysAreLowercase() {
        assertEquals(List.of("empty", "bad_roles", "too_short", "too_long", "refusal", "echo", "identical_replies"),
                Arrays.stream(Rejection.values()).map(Rejection::key).toList());
    }
}
