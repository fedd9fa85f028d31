package dev.forgeline.engine.train;

import dev.forgeline.engine.tokenizer.ChatMessage;
import java.util.List;

/**
 * One preference pair of a DPO dataset: a conversation up to its last user turn, and two
 * assistant replies to it, the preferred ({@code chosen}, y_w) and the dispreferred
 * ({@code rejected}, y_l).
 */
public record PreferenceExample(List<ChatMessage> prompt, ChatMessage chosen, ChatMessage rejected) {

    public PreferenceExample {
        prompt = List.copyOf(prompt);
    }

    public static PreferenceExample of(String user, String chosen, String rejected) {
        return new PreferenceExample(List.of(ChatMessage.user(user)), ChatMessage.assistant(chosen),
                ChatMessage.assistant(rejected));
    }
}
