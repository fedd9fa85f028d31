package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/** One message of a chat example, as in OpenAI's chat fine-tuning format: system, user or assistant. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ChatTurn(String role, String content) {
    public static ChatTurn system(String content) {
        return new ChatTurn("system", content);
    }

    public static ChatTurn user(String content) {
        return new ChatTurn("user", content);
    }

    public static ChatTurn assistant(String content) {
        return new ChatTurn("assistant", content);
    }
}
