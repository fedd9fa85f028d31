package dev.forgeline.engine.tokenizer;

/**
 * A chat template could not be rendered: the model has none, the template is malformed, or it
 * rejected the conversation through {@code raise_exception} (for example roles that do not
 * alternate).
 */
public class ChatTemplateException extends RuntimeException {

    public ChatTemplateException(String message) {
        super(message);
    }
}
