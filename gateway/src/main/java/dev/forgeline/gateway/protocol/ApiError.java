package dev.forgeline.gateway.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ErrorBody;
import dev.forgeline.gateway.protocol.OpenAiProtocol.ErrorResponse;
import java.util.stream.Collectors;

/**
 * A failure the client sees, in OpenAI's shape {@code {"error": {message, type, param, code}}}
 * with its HTTP status. {@link #of(Throwable)} is the one place any failure becomes such a
 * body; everything unexpected turns into a bare 500 that keeps only the exception's class, for
 * the log line the route writes (an exception's message may quote the request).
 */
public final class ApiError extends RuntimeException {

    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final Integer retryAfterSeconds;
    private final Class<?> unexpected;

    public ApiError(int status, String type, String message, String param, String code, Integer retryAfterSeconds) {
        this(status, type, message, param, code, retryAfterSeconds, null);
    }

    private ApiError(int status, String type, String message, String param, String code, Integer retryAfterSeconds,
            Class<?> unexpected) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
        this.unexpected = unexpected;
    }

    public static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", message, param, null, null);
    }

    public static ApiError contextLengthExceeded(String param, int contextLength, int prompt, int completion) {
        return new ApiError(400, "invalid_request_error", "This model's maximum context length is " + contextLength
                + " tokens. However, you requested " + (prompt + completion) + " tokens (" + prompt
                + " in the prompt, " + completion + " for the completion). Please reduce the length of the prompt"
                + " or of the completion.", param, "context_length_exceeded", null);
    }

    public static ApiError unauthorized(String message) {
        return new ApiError(401, "invalid_request_error", message, null, "invalid_api_key", null);
    }

    public static ApiError modelNotFound(String model) {
        return new ApiError(404, "invalid_request_error", "The model '" + model + "' does not exist",
                "model", "model_not_found", null);
    }

    public static ApiError notFound(String message) {
        return new ApiError(404, "invalid_request_error", message, null, "not_found", null);
    }

    public static ApiError methodNotAllowed(String request) {
        return new ApiError(405, "invalid_request_error", "Invalid method for URL (" + request + ")", null,
                "method_not_allowed", null);
    }

    public static ApiError unsupportedMediaType(String contentType) {
        return unsupportedMediaType(contentType, "application/json");
    }

    public static ApiError unsupportedMediaType(String contentType, String accepted) {
        return new ApiError(415, "invalid_request_error", "Unsupported content type: '" + contentType
                + "'. This API method only accepts '" + accepted + "' requests.", null, "unsupported_media_type", null);
    }

    public static ApiError queueFull(String model, int retryAfterSeconds) {
        return new ApiError(429, "rate_limit_exceeded", "The server is at capacity for model '" + model
                + "'; retry later", null, "rate_limit_exceeded", retryAfterSeconds);
    }

    public static ApiError loading(String model, int retryAfterSeconds) {
        return new ApiError(503, "server_error", "The model '" + model + "' is still loading; retry later",
                null, "model_loading", retryAfterSeconds);
    }

    public static ApiError unavailable(String message) {
        return new ApiError(503, "server_error", message, null, "service_unavailable", 1);
    }

    public static ApiError upstream(String message) {
        return new ApiError(502, "server_error", message, null, "upstream_error", null);
    }

    public static ApiError tooLarge(long limit) {
        return new ApiError(413, "invalid_request_error", "The request body is larger than " + limit + " bytes",
                null, "request_too_large", null);
    }

    public static ApiError fileTooLarge(long limit) {
        return new ApiError(413, "invalid_request_error", "The file is larger than " + limit + " bytes, the most this"
                + " gateway accepts (forge.gateway.files.max-bytes)", "file", "file_too_large", null);
    }

    /** Maps any failure to the error the client gets. */
    public static ApiError of(Throwable t) {
        if (t instanceof ApiError e) {
            return e;
        }
        if (t instanceof MismatchedInputException e) {
            String param = path(e);
            return invalid(param, "Invalid type for '" + param + "'" + expected(e));
        }
        if (t instanceof JsonProcessingException e) {
            return invalid(null, "We could not parse the JSON body of your request: "
                    + e.getOriginalMessage().replaceAll("\\s+", " "));
        }
        if (t.getCause() != null && t.getCause() != t && !(t instanceof IllegalStateException)
                && (t instanceof java.util.concurrent.CompletionException
                        || t instanceof java.util.concurrent.ExecutionException)) {
            return of(t.getCause());
        }
        return new ApiError(500, "server_error", "The server had an error while processing your request", null,
                "internal_error", null, t.getClass());
    }

    private static String path(JsonMappingException e) {
        String p = e.getPath().stream()
                .map(r -> r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining());
        return p.startsWith(".") ? p.substring(1) : p;
    }

    private static String expected(MismatchedInputException e) {
        Class<?> type = e.getTargetType();
        if (type == null) {
            return "";
        }
        String name = Number.class.isAssignableFrom(type) || type.isPrimitive() ? "a number"
                : type == String.class ? "a string"
                : type == Boolean.class ? "a boolean"
                : java.util.List.class.isAssignableFrom(type) ? "an array"
                : "an object";
        return ": expected " + name;
    }

    public ErrorResponse body() {
        return new ErrorResponse(new ErrorBody(getMessage(), type, param, code));
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }

    /** The class of the unexpected exception behind a 500; null for an error the code meant to answer. */
    public Class<?> unexpected() {
        return unexpected;
    }

    /** Seconds for a {@code Retry-After} header; null for none. */
    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
