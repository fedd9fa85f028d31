package dev.forgeline.datagen.generation;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the teacher is asked. Each kind of call opens with its own fixed phrase (the constants), so
 * that a log or a scripted test teacher can tell the calls apart.
 */
public final class TeacherPrompts {
    public static final String SYSTEM_PROMPT_CALL = "Write the system prompt";
    public static final String TOPICS_CALL = "List sub-topics";
    public static final String EXAMPLE_CALL = "Write one new training example";
    public static final String QUESTION_CALL = "Write one new user message";

    private static final String ROLE = "You write training data for fine-tuning a language model. You follow the requested format exactly.";

    private TeacherPrompts() {}

    static List<ChatTurn> systemPrompt(String task) {
        return List.of(ChatTurn.system(ROLE), ChatTurn.user(SYSTEM_PROMPT_CALL + " for a model fine-tuned to do this task:\n\n"
                + task + "\n\nOne or two sentences in the form \"Given X, you will Y.\" Reply with the system prompt alone."));
    }

    static List<ChatTurn> topics(String task, int count) {
        return List.of(ChatTurn.system(ROLE), ChatTurn.user(TOPICS_CALL + ": " + count
                + " distinct sub-topics or situations that examples of this task should cover, from simple to hard, varied in"
                + " content and style.\n\nTask: " + task + "\n\nReply with JSON: {\"topics\": [\"...\", \"...\"]}"));
    }

    /** One example as JSON, on {@code topic}, new and a little harder than {@code earlier}. */
    static List<ChatTurn> example(String task, String systemPrompt, String topic, List<Conversation> earlier) {
        StringBuilder p = new StringBuilder(EXAMPLE_CALL).append(" for this task.\n\nTask: ").append(task)
                .append("\nThe fine-tuned model's system prompt: ").append(systemPrompt)
                .append("\nSub-topic of this example: ").append(topic);
        appendEarlier(p, earlier);
        p.append("\n\nThe user message is what a real user would write; the assistant message is the ideal reply."
                + " More user and assistant turns are allowed.\nReply with JSON: {\"messages\": [{\"role\": \"user\", \"content\": \"...\"},"
                + " {\"role\": \"assistant\", \"content\": \"...\"}]}");
        return List.of(ChatTurn.system(ROLE), ChatTurn.user(p.toString()));
    }

    /** The first call of a plain example: a user message alone, as plain text. */
    static List<ChatTurn> question(String task, String topic, List<Conversation> earlier) {
        StringBuilder p = new StringBuilder(QUESTION_CALL).append(" for this task.\n\nTask: ").append(task)
                .append("\nSub-topic: ").append(topic);
        appendEarlier(p, earlier);
        p.append("\n\nReply with the user message alone, as plain text.");
        return List.of(ChatTurn.system(ROLE), ChatTurn.user(p.toString()));
    }

    /** The second call of a plain example: the teacher answers as the fine-tuned model would. */
    static List<ChatTurn> answer(String systemPrompt, String question) {
        return List.of(ChatTurn.system(systemPrompt), ChatTurn.user(question));
    }

    /** The text an echoing example would repeat: the task and the fixed parts of the prompts. */
    static String instructions(String task, String systemPrompt) {
        return String.join("\n", task, ROLE, example(task, systemPrompt, "", List.of()).get(1).content());
    }

    private static void appendEarlier(StringBuilder p, List<Conversation> earlier) {
        if (earlier.isEmpty()) {
            return;
        }
        p.append("\n\nExamples written so far; write something new and a little harder than these:");
        for (Conversation c : earlier) {
            List<ChatTurn> messages = new ArrayList<>();
            for (ChatTurn t : c.messages()) {
                if (!"system".equals(t.role())) {
                    messages.add(t);
                }
            }
            try {
                p.append('\n').append(ContractsJson.mapper().writeValueAsString(Map.of("messages", messages)));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
