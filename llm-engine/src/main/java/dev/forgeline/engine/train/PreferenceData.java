package dev.forgeline.engine.train;

import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.util.List;

/** A preference dataset encoded for one model: training and held-out pairs with encoding counts. */
public record PreferenceData(List<PreferencePair> train, List<PreferencePair> heldOut, PreferenceEncoder.Stats trainStats,
        PreferenceEncoder.Stats heldOutStats, int padId) {

    public static PreferenceData encode(Tokenizer tokenizer, ChatTemplate template, TrainingConfig config,
            List<PreferenceExample> train, List<PreferenceExample> heldOut) {
        PreferenceEncoder encoder = new PreferenceEncoder(tokenizer, template, config.maxSeqLength(), config.maskFormatTokens());
        PreferenceEncoder.Stats[] trainStats = new PreferenceEncoder.Stats[1];
        PreferenceEncoder.Stats[] heldOutStats = new PreferenceEncoder.Stats[1];
        List<PreferencePair> t = encoder.encodeAll(train, trainStats);
        if (t.isEmpty()) {
            throw new DatasetException("none of the " + train.size() + " preference pairs has reply tokens left within "
                    + config.maxSeqLength() + " tokens");
        }
        List<PreferencePair> h = heldOut == null ? List.of() : encoder.encodeAll(heldOut, heldOutStats);
        return new PreferenceData(t, h, trainStats[0], heldOutStats[0], TrainingData.padId(tokenizer));
    }
}
