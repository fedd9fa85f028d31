package dev.forgeline.engine.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.engine.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * config.json of a Llama-family decoder ({@code llama}, {@code qwen2}, {@code mistral}),
 * field for field. Derived values ({@link #headDim()} when absent, qwen2's q/k/v bias) are
 * resolved once here so the model code never guesses.
 *
 * <p>Sliding-window attention (Mistral's {@code sliding_window}, 4096 when absent; Qwen2's when
 * {@code use_sliding_window} is true) is not implemented: a window shorter than
 * {@code max_position_embeddings} becomes the context limit instead, within which full attention
 * is exactly what transformers computes.
 */
public record ModelConfig(
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int numHiddenLayers,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        int vocabSize,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        Integer bosTokenId,
        List<Integer> eosTokenIds,
        String torchDtype) {

    public static final Set<String> SUPPORTED_TYPES = Set.of("llama", "qwen2", "mistral");
    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelConfig {
        if (!SUPPORTED_TYPES.contains(modelType)) {
            throw new ModelFormatException("model_type '" + modelType + "' is not supported (supported: "
                    + String.join(", ", SUPPORTED_TYPES.stream().sorted().toList()) + ")");
        }
        if (numAttentionHeads <= 0 || numKeyValueHeads <= 0 || numAttentionHeads % numKeyValueHeads != 0) {
            throw new ModelFormatException("num_attention_heads " + numAttentionHeads
                    + " must be a positive multiple of num_key_value_heads " + numKeyValueHeads);
        }
        if (headDim % 2 != 0) {
            throw new ModelFormatException("head_dim " + headDim + " must be even for rotary embeddings");
        }
        ropeScaling = ropeScaling == null ? RopeScaling.NONE : ropeScaling;
        eosTokenIds = eosTokenIds == null ? List.of() : List.copyOf(eosTokenIds);
    }

    /** q/k/v projections carry a bias: Llama's {@code attention_bias}, always for Qwen2. */
    public boolean qkvBias() {
        return attentionBias;
    }

    /** Llama's {@code attention_bias} also biases o_proj; Qwen2 biases only q/k/v. */
    public boolean outputBias() {
        return attentionBias && !"qwen2".equals(modelType);
    }

    public int queryGroups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    public static ModelConfig read(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("config.json") : dirOrFile;
        try {
            return fromJson(JSON.readTree(file.toFile()));
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    public static ModelConfig fromJson(String json) {
        try {
            return fromJson(JSON.readTree(json));
        } catch (IOException e) {
            throw new ModelFormatException("malformed config.json: " + e.getMessage(), e);
        }
    }

    public static ModelConfig fromJson(JsonNode n) {
        String type = n.path("model_type").asText("");
        if (!SUPPORTED_TYPES.contains(type)) {
            String arch = n.path("architectures").path(0).asText("?");
            throw new ModelFormatException("unsupported architecture: model_type '" + type + "' (" + arch
                    + "); supported model types: llama, qwen2, mistral");
        }
        String act = n.path("hidden_act").asText("silu");
        if (!"silu".equals(act)) {
            throw new ModelFormatException("hidden_act '" + act + "' is not supported (only silu)");
        }
        int hidden = required(n, "hidden_size");
        int heads = required(n, "num_attention_heads");
        int headDim = n.hasNonNull("head_dim") ? n.get("head_dim").asInt() : hidden / heads;
        // Qwen2Attention biases q/k/v whatever the config says; Llama and Mistral follow attention_bias
        boolean attentionBias = "qwen2".equals(type) || n.path("attention_bias").asBoolean(false);
        return new ModelConfig(
                type,
                hidden,
                required(n, "intermediate_size"),
                heads,
                n.path("num_key_value_heads").asInt(heads),
                headDim,
                required(n, "num_hidden_layers"),
                n.path("rms_norm_eps").asDouble(1e-6),
                n.path("rope_theta").asDouble(10000.0),
                RopeScaling.fromJson(n.get("rope_scaling")),
                contextLimit(type, n),
                required(n, "vocab_size"),
                n.path("tie_word_embeddings").asBoolean(false),
                attentionBias,
                n.path("mlp_bias").asBoolean(false),
                n.hasNonNull("bos_token_id") ? n.get("bos_token_id").asInt() : null,
                ids(n.get("eos_token_id")),
                n.path("torch_dtype").asText("float32"));
    }

    /** max_position_embeddings, capped at the sliding window where transformers would apply one. */
    static int contextLimit(String type, JsonNode n) {
        int positions = n.path("max_position_embeddings").asInt(2048);
        JsonNode window = n.get("sliding_window");
        boolean slides = switch (type) {
            case "mistral" -> window == null || !window.isNull(); // MistralConfig's default is 4096
            case "qwen2" -> n.path("use_sliding_window").asBoolean(false);
            default -> false;
        };
        if (!slides) {
            return positions;
        }
        int w = window == null || window.isNull() ? 4096 : window.asInt();
        return w > 0 ? Math.min(positions, w) : positions;
    }

    /** Reads an {@code eos_token_id} that may be a single id, a list or absent. */
    static List<Integer> ids(JsonNode node) {
        List<Integer> ids = new ArrayList<>();
        if (node == null || node.isNull()) {
            return ids;
        }
        if (node.isArray()) {
            node.forEach(e -> ids.add(e.asInt()));
        } else {
            ids.add(node.asInt());
        }
        return ids;
    }

    private static int required(JsonNode n, String field) {
        if (!n.hasNonNull(field)) {
            throw new ModelFormatException("config.json lacks '" + field + "'");
        }
        return n.get(field).asInt();
    }

    /** config.json as transformers would write it for this architecture. */
    public String toJson() {
        ObjectNode n = JSON.createObjectNode();
        String arch = switch (modelType) {
            case "qwen2" -> "Qwen2ForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            default -> "LlamaForCausalLM";
        };
        n.putArray("architectures").add(arch);
        n.put("model_type", modelType);
        n.put("hidden_size", hiddenSize);
        n.put("intermediate_size", intermediateSize);
        n.put("num_attention_heads", numAttentionHeads);
        n.put("num_key_value_heads", numKeyValueHeads);
        n.put("head_dim", headDim);
        n.put("num_hidden_layers", numHiddenLayers);
        n.put("rms_norm_eps", rmsNormEps);
        n.put("rope_theta", ropeTheta);
        if (ropeScaling.isNone()) {
            n.putNull("rope_scaling");
        } else {
            ObjectNode s = n.putObject("rope_scaling");
            s.put("rope_type", ropeScaling.type());
            s.put("factor", ropeScaling.factor());
            if ("llama3".equals(ropeScaling.type())) {
                s.put("low_freq_factor", ropeScaling.lowFreqFactor());
                s.put("high_freq_factor", ropeScaling.highFreqFactor());
                s.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            }
        }
        n.put("max_position_embeddings", maxPositionEmbeddings);
        if ("mistral".equals(modelType)) {
            n.putNull("sliding_window"); // full attention over max_position_embeddings, what the engine runs
        }
        n.put("vocab_size", vocabSize);
        n.put("tie_word_embeddings", tieWordEmbeddings);
        n.put("attention_bias", attentionBias);
        if (!"qwen2".equals(modelType)) {
            n.put("mlp_bias", mlpBias);
        }
        n.put("hidden_act", "silu");
        if (bosTokenId != null) {
            n.put("bos_token_id", bosTokenId);
        }
        if (eosTokenIds.size() == 1) {
            n.put("eos_token_id", eosTokenIds.get(0));
        } else if (!eosTokenIds.isEmpty()) {
            ArrayNode a = n.putArray("eos_token_id");
            eosTokenIds.forEach(a::add);
        }
        n.put("torch_dtype", torchDtype);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Builder builder(String modelType) {
        return new Builder(modelType);
    }

    public Builder toBuilder() {
        Builder b = new Builder(modelType);
        b.hiddenSize = hiddenSize;
        b.intermediateSize = intermediateSize;
        b.numAttentionHeads = numAttentionHeads;
        b.numKeyValueHeads = numKeyValueHeads;
        b.headDim = headDim;
        b.numHiddenLayers = numHiddenLayers;
        b.rmsNormEps = rmsNormEps;
        b.ropeTheta = ropeTheta;
        b.ropeScaling = ropeScaling;
        b.maxPositionEmbeddings = maxPositionEmbeddings;
        b.vocabSize = vocabSize;
        b.tieWordEmbeddings = tieWordEmbeddings;
        b.attentionBias = attentionBias;
        b.mlpBias = mlpBias;
        b.bosTokenId = bosTokenId;
        b.eosTokenIds = eosTokenIds;
        b.torchDtype = torchDtype;
        return b;
    }

    /** For tests and the random-model generator: a config built in code. */
    public static final class Builder {
        private final String modelType;
        private int hiddenSize = 64;
        private int intermediateSize = 172;
        private int numAttentionHeads = 4;
        private Integer numKeyValueHeads;
        private Integer headDim;
        private int numHiddenLayers = 2;
        private double rmsNormEps = 1e-5;
        private double ropeTheta = 10000.0;
        private RopeScaling ropeScaling = RopeScaling.NONE;
        private int maxPositionEmbeddings = 512;
        private int vocabSize = 512;
        private boolean tieWordEmbeddings;
        private Boolean attentionBias;
        private boolean mlpBias;
        private Integer bosTokenId = 1;
        private List<Integer> eosTokenIds = List.of(2);
        private String torchDtype = "float32";

        private Builder(String modelType) {
            this.modelType = modelType;
        }

        public Builder hiddenSize(int v) { hiddenSize = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder numAttentionHeads(int v) { numAttentionHeads = v; return this; }
        public Builder numKeyValueHeads(int v) { numKeyValueHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder numHiddenLayers(int v) { numHiddenLayers = v; return this; }
        public Builder rmsNormEps(double v) { rmsNormEps = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder ropeScaling(RopeScaling v) { ropeScaling = v; return this; }
        public Builder maxPositionEmbeddings(int v) { maxPositionEmbeddings = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder tieWordEmbeddings(boolean v) { tieWordEmbeddings = v; return this; }
        public Builder attentionBias(boolean v) { attentionBias = v; return this; }
        public Builder mlpBias(boolean v) { mlpBias = v; return this; }
        public Builder bosTokenId(Integer v) { bosTokenId = v; return this; }
        public Builder eosTokenIds(List<Integer> v) { eosTokenIds = v; return this; }
        public Builder torchDtype(String v) { torchDtype = v; return this; }

        public ModelConfig build() {
            int kv = numKeyValueHeads == null ? numAttentionHeads : numKeyValueHeads;
            int hd = headDim == null ? hiddenSize / numAttentionHeads : headDim;
            boolean bias = attentionBias == null ? "qwen2".equals(modelType) : attentionBias;
            return new ModelConfig(modelType, hiddenSize, intermediateSize, numAttentionHeads, kv, hd,
                    numHiddenLayers, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, vocabSize,
                    tieWordEmbeddings, bias, mlpBias, bosTokenId, eosTokenIds, torchDtype);
        }
    }
}
