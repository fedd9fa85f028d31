package dev.forgeline.gateway.protocol;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Every request and response shape of the OpenAI API that the gateway speaks, in one place (as
 * vLLM's {@code entrypoints/openai/protocol.py}). Field names are exactly OpenAI's; a request's
 * {@code validate()} sits next to its fields and throws {@link ApiError} naming the bad
 * {@code param}. Unknown request fields are ignored, as OpenAI and vLLM do, so newer SDKs work.
 * Responses write {@code null} where OpenAI writes {@code null} (finish_reason, logprobs,
 * refusal): some clients read those keys unconditionally.
 */
public final class OpenAiProtocol {
    private OpenAiProtocol() {}

    /** OpenAI's documented range for temperature. */
    static final double MAX_TEMPERATURE = 2.0;
    /** OpenAI's documented bound for top_logprobs (chat) and logprobs (completions). */
    static final int MAX_TOP_LOGPROBS = 20;

    // ---------------------------------------------------------------- requests

    /** The sampling fields chat and completions share, with their OpenAI ranges. */
    interface SamplingFields {
        Double temperature();
        Double top_p();
        Integer n();
        Long seed();
        Double presence_penalty();
        Double frequency_penalty();
        JsonNode stop();

        default void validateSampling() {
            if (temperature() != null && (temperature() < 0 || temperature() > MAX_TEMPERATURE)) {
                throw ApiError.invalid("temperature", temperature() + " is not in [0, 2] - 'temperature'");
            }
            if (top_p() != null && (top_p() <= 0 || top_p() > 1)) {
                throw ApiError.invalid("top_p", top_p() + " is not in (0, 1] - 'top_p'");
            }
            if (n() != null && (n() < 1 || n() > 128)) {
                throw ApiError.invalid("n", n() + " is not in [1, 128] - 'n'");
            }
            checkPenalty("presence_penalty", presence_penalty());
            checkPenalty("frequency_penalty", frequency_penalty());
            stopList();
        }

        private static void checkPenalty(String name, Double value) {
            if (value != null && (value < -2 || value > 2)) {
                throw ApiError.invalid(name, value + " is not in [-2, 2] - '" + name + "'");
            }
        }

        /** {@code stop}: a string or a list of up to 4 strings. */
        default List<String> stopList() {
            JsonNode s = stop();
            if (s == null || s.isNull()) {
                return List.of();
            }
            if (s.isTextual()) {
                return List.of(s.asText());
            }
            if (!s.isArray() || s.size() > 4) {
                throw ApiError.invalid("stop", "'stop' must be a string or a list of at most 4 strings");
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw ApiError.invalid("stop", "'stop' must be a string or a list of at most 4 strings");
                }
                out.add(e.asText());
            }
            return out;
        }

        default int choices() {
            return n() == null ? 1 : n();
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record StreamOptions(Boolean include_usage) {
        public boolean includeUsage() {
            return Boolean.TRUE.equals(include_usage);
        }
    }

    /**
     * One message of a chat request. {@code content} is a string or a list of parts
     * ({@code {"type": "text", "text": ...}}); other part types are refused.
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record ChatMessageParam(String role, JsonNode content, String name) {

        static final List<String> ROLES = List.of("system", "developer", "user", "assistant");

        void validate(int index) {
            String param = "messages[" + index + "]";
            if (role == null || !ROLES.contains(role)) {
                throw ApiError.invalid(param + ".role", "'" + role + "' is not one of " + ROLES + " - '" + param + ".role'");
            }
            text(index);
        }

        /** The content as plain text (text parts joined). */
        public String text(int index) {
            String param = "messages[" + index + "].content";
            if (content == null || content.isNull()) {
                if ("assistant".equals(role)) {
                    return "";
                }
                throw ApiError.invalid(param, "'" + param + "' is required");
            }
            if (content.isTextual()) {
                return content.asText();
            }
            if (!content.isArray()) {
                throw ApiError.invalid(param, "'" + param + "' must be a string or a list of text parts");
            }
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : content) {
                if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiError.invalid(param, "only text content parts are supported - '" + param + "'");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record ChatCompletionRequest(
            String model,
            List<ChatMessageParam> messages,
            Integer max_tokens,
            Integer max_completion_tokens,
            Double temperature,
            Double top_p,
            Integer n,
            JsonNode stop,
            Long seed,
            Double presence_penalty,
            Double frequency_penalty,
            Boolean logprobs,
            Integer top_logprobs,
            Boolean stream,
            StreamOptions stream_options,
            String user) implements SamplingFields {

        public void validate() {
            if (model == null || model.isBlank()) {
                throw ApiError.invalid("model", "'model' is required");
            }
            if (messages == null || messages.isEmpty()) {
                throw ApiError.invalid("messages", "'messages' must be a non-empty list");
            }
            for (int i = 0; i < messages.size(); i++) {
                if (messages.get(i) == null) {
                    throw ApiError.invalid("messages[" + i + "]", "'messages[" + i + "]' must be an object");
                }
                messages.get(i).validate(i);
            }
            validateSampling();
            Integer max = maxTokens();
            if (max != null && max < 1) {
                throw ApiError.invalid(max_completion_tokens != null ? "max_completion_tokens" : "max_tokens",
                        max + " is less than the minimum of 1");
            }
            if (top_logprobs != null) {
                if (top_logprobs < 0 || top_logprobs > MAX_TOP_LOGPROBS) {
                    throw ApiError.invalid("top_logprobs", top_logprobs + " is not in [0, 20] - 'top_logprobs'");
                }
                if (!wantsLogprobs()) {
                    throw ApiError.invalid("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
                }
            }
            if (stream_options != null && !isStream()) {
                throw ApiError.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
            }
        }

        /** {@code max_completion_tokens} replaced {@code max_tokens}; the newer one wins. */
        public Integer maxTokens() {
            return max_completion_tokens != null ? max_completion_tokens : max_tokens;
        }

        public boolean isStream() {
            return Boolean.TRUE.equals(stream);
        }

        public boolean wantsLogprobs() {
            return Boolean.TRUE.equals(logprobs);
        }

        public boolean includeUsage() {
            return stream_options != null && stream_options.includeUsage();
        }
    }

    /**
     * {@code prompt}: a string, a list of strings, a list of token ids, or a list of such lists;
     * each entry is one prompt, and each prompt gets {@code n} choices.
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record CompletionRequest(
            String model,
            JsonNode prompt,
            Integer max_tokens,
            Double temperature,
            Double top_p,
            Integer n,
            JsonNode stop,
            Long seed,
            Double presence_penalty,
            Double frequency_penalty,
            Integer logprobs,
            Boolean echo,
            Boolean stream,
            StreamOptions stream_options,
            String suffix,
            String user) implements SamplingFields {

        /** One prompt: text to encode, or ids as given. */
        public record Prompt(String text, int[] ids) {}

        /** OpenAI's default when max_tokens is absent. */
        public static final int DEFAULT_MAX_TOKENS = 16;

        public void validate() {
            if (model == null || model.isBlank()) {
                throw ApiError.invalid("model", "'model' is required");
            }
            prompts();
            validateSampling();
            if (max_tokens != null && max_tokens < 0) {
                throw ApiError.invalid("max_tokens", max_tokens + " is less than the minimum of 0");
            }
            if (logprobs != null && (logprobs < 0 || logprobs > 5)) {
                throw ApiError.invalid("logprobs", logprobs + " is not in [0, 5] - 'logprobs'");
            }
            if (suffix != null) {
                throw ApiError.invalid("suffix", "'suffix' is not supported");
            }
            if (stream_options != null && !isStream()) {
                throw ApiError.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
            }
        }

        public List<Prompt> prompts() {
            JsonNode p = prompt;
            String bad = "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids";
            if (p == null || p.isNull()) {
                throw ApiError.invalid("prompt", "'prompt' is required");
            }
            if (p.isTextual()) {
                return List.of(new Prompt(p.asText(), null));
            }
            if (!p.isArray() || p.isEmpty()) {
                throw ApiError.invalid("prompt", bad);
            }
            if (p.get(0).isInt()) {
                return List.of(new Prompt(null, ids(p, bad)));
            }
            List<Prompt> out = new ArrayList<>();
            for (JsonNode e : p) {
                if (e.isTextual()) {
                    out.add(new Prompt(e.asText(), null));
                } else if (e.isArray() && !e.isEmpty()) {
                    out.add(new Prompt(null, ids(e, bad)));
                } else {
                    throw ApiError.invalid("prompt", bad);
                }
            }
            return out;
        }

        private static int[] ids(JsonNode array, String bad) {
            int[] ids = new int[array.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!array.get(i).isInt() || array.get(i).asInt() < 0) {
                    throw ApiError.invalid("prompt", bad);
                }
                ids[i] = array.get(i).asInt();
            }
            return ids;
        }

        public int maxTokens() {
            return max_tokens == null ? DEFAULT_MAX_TOKENS : max_tokens;
        }

        public boolean isStream() {
            return Boolean.TRUE.equals(stream);
        }

        public boolean isEcho() {
            return Boolean.TRUE.equals(echo);
        }

        public boolean includeUsage() {
            return stream_options != null && stream_options.includeUsage();
        }
    }

    // ---------------------------------------------------------------- responses

    public record Usage(int prompt_tokens, int completion_tokens, int total_tokens) {
        public static Usage of(int prompt, int completion) {
            return new Usage(prompt, completion, prompt + completion);
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Model(String id, String object, long created, String owned_by, String parent, String root) {
        public Model(String id, long created, String ownedBy, String parent, String root) {
            this(id, "model", created, ownedBy, parent, root);
        }
    }

    public record ModelList(String object, List<Model> data) {
        public ModelList(List<Model> data) {
            this("list", data);
        }
    }

    public record TopLogprob(String token, double logprob, List<Integer> bytes) {}

    public record ChatLogprobToken(String token, double logprob, List<Integer> bytes, List<TopLogprob> top_logprobs) {}

    public record ChatLogprobs(List<ChatLogprobToken> content, List<ChatLogprobToken> refusal) {
        public ChatLogprobs(List<ChatLogprobToken> content) {
            this(content, null);
        }
    }

    /** An assistant message in a response; {@code refusal} is always null here. */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record ChatMessage(String role, String content, String refusal) {
        public static ChatMessage assistant(String content) {
            return new ChatMessage("assistant", content, null);
        }
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record ChatChoice(int index, ChatMessage message, ChatLogprobs logprobs, String finish_reason) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ChatCompletion(String id, String object, long created, String model, List<ChatChoice> choices,
            Usage usage, String system_fingerprint) {
        public ChatCompletion(String id, long created, String model, List<ChatChoice> choices, Usage usage) {
            this(id, "chat.completion", created, model, choices, usage, null);
        }
    }

    /** A streamed delta: the first chunk of a choice carries the role, later ones content. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delta(String role, String content) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record ChatChunkChoice(int index, Delta delta, ChatLogprobs logprobs, String finish_reason) {}

    /**
     * {@code usage} only on the extra last chunk (empty {@code choices}) that
     * {@code stream_options.include_usage} asks for.
     */
    public record ChatCompletionChunk(String id, String object, long created, String model,
            List<ChatChunkChoice> choices, @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage) {
        public ChatCompletionChunk(String id, long created, String model, List<ChatChunkChoice> choices, Usage usage) {
            this(id, "chat.completion.chunk", created, model, choices, usage);
        }
    }

    /** The legacy logprobs block of /v1/completions, per token of the choice's text. */
    public record CompletionLogprobs(List<String> tokens, List<Double> token_logprobs,
            List<Map<String, Double>> top_logprobs, List<Integer> text_offset) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record CompletionChoice(int index, String text, CompletionLogprobs logprobs, String finish_reason) {}

    /** A completion, or one streamed chunk of it (same object; usage as for chat chunks). */
    public record Completion(String id, String object, long created, String model, List<CompletionChoice> choices,
            @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage) {
        public Completion(String id, long created, String model, List<CompletionChoice> choices, Usage usage) {
            this(id, "text_completion", created, model, choices, usage);
        }
    }

    // ---------------------------------------------------------------- errors

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record ErrorBody(String message, String type, String param, String code) {}

    public record ErrorResponse(ErrorBody error) {
        @JsonIgnore
        public String message() {
            return error.message();
        }
    }

    /** The terminal line of every stream, after which the client closes. */
    public static final String DONE = "[DONE]";
}
