package dev.forgeline.datagen.rejection;

import dev.forgeline.contracts.ChatTurn;
import java.util.List;

/**
 * One prompt to sample: its 0-based position in the source, the conversation up to its last user
 * turn, and the known answer ({@code reference}), or null.
 */
public record SamplePrompt(int index, List<ChatTurn> messages, String reference) {
    public SamplePrompt {
        messages = List.copyOf(messages);
    }
}
