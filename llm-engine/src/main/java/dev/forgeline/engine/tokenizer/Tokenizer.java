package dev.forgeline.engine.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A model folder's tokenizer: {@code tokenizer.json} run by the Hugging Face tokenizers library
 * (through DJL's JNI binding), plus the special tokens and flags that transformers keeps in
 * {@code tokenizer_config.json}, {@code generation_config.json} and {@code config.json}.
 *
 * <p>Holds a native handle: close it when done.
 */
public final class Tokenizer implements Closeable {

    private final HuggingFaceTokenizer native_;
    private final TokenizerConfig config;
    private final Map<String, Integer> tokenToId;
    private final String[] idToToken;
    private final BitSet specialIds;
    private final OptionalInt bosTokenId;
    private final int[] eosTokenIds;

    private Tokenizer(HuggingFaceTokenizer native_, TokenizerConfig config,
                      Map<String, Integer> tokenToId, String[] idToToken, BitSet specialIds,
                      OptionalInt bosTokenId, int[] eosTokenIds) {
        this.native_ = native_;
        this.config = config;
        this.tokenToId = tokenToId;
        this.idToToken = idToToken;
        this.specialIds = specialIds;
        this.bosTokenId = bosTokenId;
        this.eosTokenIds = eosTokenIds;
    }

    /**
     * Loads the tokenizer of a model folder in Hugging Face layout. Requires
     * {@code tokenizer.json}; {@code tokenizer_config.json}, {@code generation_config.json} and
     * {@code config.json} are read when present.
     */
    public static Tokenizer load(Path modelDir) {
        Path tokenizerJson = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new UncheckedIOException(new NoSuchFileException(tokenizerJson.toString(), null,
                    "a model folder needs tokenizer.json (the Hugging Face 'fast' tokenizer file);"
                            + " SentencePiece-only folders (tokenizer.model) are not supported"));
        }
        try {
            JsonNode tokenizerTree = TokenizerConfig.JSON.readTree(tokenizerJson.toFile());
            TokenizerConfig config = TokenizerConfig.load(modelDir);

            Map<String, Integer> tokenToId = new HashMap<>();
            BitSet special = new BitSet();
            readVocabulary(tokenizerTree, tokenToId, special);
            config.addedTokens().forEach((id, token) -> {
                tokenToId.putIfAbsent(token.content(), id);
                if (token.special()) {
                    special.set(id);
                }
            });
            int size = tokenToId.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
            String[] idToToken = new String[size];
            tokenToId.forEach((token, id) -> {
                if (idToToken[id] == null) {
                    idToToken[id] = token;
                }
            });

            OptionalInt bos = firstId(modelDir, "bos_token_id");
            if (bos.isEmpty() && config.bosToken() != null && tokenToId.containsKey(config.bosToken())) {
                bos = OptionalInt.of(tokenToId.get(config.bosToken()));
            }
            int[] eos = eosIds(modelDir, config, tokenToId);

            // The tokenizers library truncates nothing by itself, but DJL's wrapper defaults to
            // truncation at 512 tokens and to padding; both are wrong for a causal LM.
            HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(tokenizerJson, Map.of(
                    "addSpecialTokens", "true",
                    "truncation", "false",
                    "padding", "false"));
            return new Tokenizer(hf, config, tokenToId, idToToken, special, bos, eos);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer from " + modelDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Encodes text to token ids. With {@code addSpecialTokens} the tokenizer's post-processor
     * adds its special tokens (typically BOS), adjusted to {@code add_bos_token} /
     * {@code add_eos_token} when {@code tokenizer_config.json} states them, as transformers'
     * Llama tokenizers do. Text produced by a chat template already holds its special tokens:
     * encode it with {@code false}.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        int[] ids = toInts(native_.encode(text, addSpecialTokens, false).getIds());
        if (!addSpecialTokens) {
            return ids;
        }
        if (bosTokenId.isPresent() && config.addBosToken().isPresent()) {
            int bos = bosTokenId.getAsInt();
            boolean hasBos = ids.length > 0 && ids[0] == bos;
            if (config.addBosToken().get() && !hasBos) {
                ids = prepend(bos, ids);
            } else if (!config.addBosToken().get() && hasBos && addedByPostProcessor(text, ids)) {
                ids = Arrays.copyOfRange(ids, 1, ids.length);
            }
        }
        OptionalInt eos = tokenId(config.eosToken());
        if (eos.isPresent() && config.addEosToken().orElse(false)
                && (ids.length == 0 || ids[ids.length - 1] != eos.getAsInt())) {
            ids = Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = eos.getAsInt();
        }
        return ids;
    }

    /** Decodes ids to text; {@code skipSpecialTokens} drops BOS, EOS and other special tokens. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        for (int id : ids) {
            if (id < 0 || id >= idToToken.length) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, "
                        + idToToken.length + ")");
            }
        }
        String text = native_.decode(toLongs(ids), skipSpecialTokens);
        return config.cleanUpTokenizationSpaces() ? cleanUpTokenizationSpaces(text) : text;
    }

    /** A new incremental decoder for streaming generated ids. */
    public StreamDecoder streamDecoder(boolean skipSpecialTokens) {
        return new StreamDecoder(this, new int[0], skipSpecialTokens);
    }

    /**
     * A new incremental decoder whose context starts with the prompt ids (which it does not
     * emit), so that the first generated token decodes with its leading space.
     */
    public StreamDecoder streamDecoder(int[] promptIds, boolean skipSpecialTokens) {
        return new StreamDecoder(this, promptIds, skipSpecialTokens);
    }

    /** The id of a token string (a vocabulary entry or an added token), if it exists. */
    public OptionalInt tokenId(String token) {
        Integer id = token == null ? null : tokenToId.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The token string of an id, if the id is in the vocabulary. */
    public Optional<String> token(int id) {
        return id >= 0 && id < idToToken.length ? Optional.ofNullable(idToToken[id]) : Optional.empty();
    }

    /** Whether an id is a special token (skipped by {@code decode(ids, true)}). */
    public boolean isSpecial(int id) {
        return specialIds.get(id);
    }

    public String bosToken() {
        return config.bosToken();
    }

    public String eosToken() {
        return config.eosToken();
    }

    public String unkToken() {
        return config.unkToken();
    }

    public String padToken() {
        return config.padToken();
    }

    public OptionalInt bosTokenId() {
        return bosTokenId;
    }

    /**
     * The ids that end generation: {@code generation_config.json}'s {@code eos_token_id} (an id
     * or a list), else {@code config.json}'s, else the id of the tokenizer's EOS token.
     */
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    /** Number of token ids, added tokens included (transformers' {@code len(tokenizer)}). */
    public int vocabSize() {
        return idToToken.length;
    }

    public OptionalInt modelMaxLength() {
        return config.modelMaxLength();
    }

    public TokenizerConfig config() {
        return config;
    }

    @Override
    public void close() {
        native_.close();
    }

    /** Whether the first id came from the post-processor rather than from the text itself. */
    private boolean addedByPostProcessor(String text, int[] withSpecial) {
        int[] plain = toInts(native_.encode(text, false, false).getIds());
        return withSpecial.length > plain.length;
    }

    /** Mirrors transformers' {@code clean_up_tokenization}, applied when the config asks for it. */
    static String cleanUpTokenizationSpaces(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m")
                .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    private static void readVocabulary(JsonNode tokenizerTree, Map<String, Integer> tokenToId, BitSet special) {
        JsonNode vocab = tokenizerTree.path("model").path("vocab");
        if (vocab.isObject()) { // BPE, WordPiece, WordLevel: {token: id}
            vocab.fields().forEachRemaining(e -> tokenToId.put(e.getKey(), e.getValue().asInt()));
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...], id = position
            for (int i = 0; i < vocab.size(); i++) {
                tokenToId.put(vocab.get(i).get(0).asText(), i);
            }
        }
        for (JsonNode added : tokenizerTree.path("added_tokens")) {
            int id = added.path("id").asInt();
            tokenToId.put(added.path("content").asText(), id);
            if (added.path("special").asBoolean(false)) {
                special.set(id);
            }
        }
    }

    private static OptionalInt firstId(Path modelDir, String field) throws IOException {
        int[] ids = idsFrom(modelDir.resolve("generation_config.json"), field);
        if (ids.length == 0) {
            ids = idsFrom(modelDir.resolve("config.json"), field);
        }
        return ids.length == 0 ? OptionalInt.empty() : OptionalInt.of(ids[0]);
    }

    private static int[] eosIds(Path modelDir, TokenizerConfig config, Map<String, Integer> tokenToId)
            throws IOException {
        int[] ids = idsFrom(modelDir.resolve("generation_config.json"), "eos_token_id");
        if (ids.length == 0) {
            ids = idsFrom(modelDir.resolve("config.json"), "eos_token_id");
        }
        if (ids.length == 0 && config.eosToken() != null && tokenToId.containsKey(config.eosToken())) {
            ids = new int[] {tokenToId.get(config.eosToken())};
        }
        return ids;
    }

    private static int[] idsFrom(Path jsonFile, String field) throws IOException {
        if (!Files.exists(jsonFile)) {
            return new int[0];
        }
        JsonNode value = TokenizerConfig.JSON.readTree(jsonFile.toFile()).get(field);
        Set<Integer> ids = new LinkedHashSet<>();
        if (value != null && value.isInt()) {
            ids.add(value.asInt());
        } else if (value != null && value.isArray()) {
            value.forEach(v -> ids.add(v.asInt()));
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] prepend(int id, int[] ids) {
        int[] out = new int[ids.length + 1];
        out[0] = id;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    private static long[] toLongs(int[] ids) {
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = ids[i];
        }
        return out;
    }
}
