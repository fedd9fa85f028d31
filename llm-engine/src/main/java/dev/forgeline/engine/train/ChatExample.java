package dev.forgeline.engine.train;

import dev.forgeline.engine.tokenizer.ChatMessage;
import java.util.List;

/** One conversation of a chat SFT dataset: the {@code messages} of an OpenAI fine-tuning JSONL line. */
public record ChatExample(List<ChatMessage> messages) {

    public ChatExample {
        messages = List.copyOf(messages);
    }

    public static ChatExample of(ChatMessage... messages) {
        return new ChatExample(List.of(messages));
    }
}
