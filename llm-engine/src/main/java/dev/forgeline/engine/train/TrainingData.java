package dev.forgeline.engine.train;

import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.util.List;

/**
 * A dataset encoded for one model: training and held-out sequences with truncation counts.
 *
 * @param padId id written into padding (never attended to by real tokens, never labelled)
 */
public record TrainingData(List<EncodedExample> train, List<EncodedExample> heldOut, ChatEncoder.Stats trainStats,
        ChatEncoder.Stats heldOutStats, int padId) {

    public static TrainingData encode(Tokenizer tokenizer, ChatTemplate template, TrainingConfig config,
            List<ChatExample> train, List<ChatExample> heldOut) {
        ChatEncoder encoder = new ChatEncoder(tokenizer, template, config.maxSeqLength(), config.assistantOnly());
        ChatEncoder.Stats[] trainStats = new ChatEncoder.Stats[1];
        ChatEncoder.Stats[] heldOutStats = new ChatEncoder.Stats[1];
        List<EncodedExample> t = encoder.encodeAll(train, trainStats);
        if (t.isEmpty()) {
            throw new DatasetException("none of the " + train.size() + " training examples has a target token left within "
                    + config.maxSeqLength() + " tokens");
        }
        List<EncodedExample> h = heldOut == null ? List.of() : encoder.encodeAll(heldOut, heldOutStats);
        return new TrainingData(t, h, trainStats[0], heldOutStats[0], padId(tokenizer));
    }

    /** The tokenizer's pad token, else its first end-of-sequence token. */
    static int padId(Tokenizer tokenizer) {
        int eos = tokenizer.eosTokenIds().length > 0 ? tokenizer.eosTokenIds()[0] : 0;
        return tokenizer.tokenId(tokenizer.padToken() == null ? "" : tokenizer.padToken()).orElse(eos);
    }
}
