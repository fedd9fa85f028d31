package dev.forgeline.engine;

/**
 * A model folder that this engine cannot use: an unsupported architecture, a missing or
 * mis-shaped tensor, a malformed config or safetensors file. The message names the culprit.
 */
public class ModelFormatException extends RuntimeException {

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
