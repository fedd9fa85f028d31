package dev.forgeline.engine.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.util.List;

/**
 * Mean loss per target token of a chat set, the trainer's held-out loss: examples encoded with
 * the model's chat template, loss on assistant tokens only, no dropout, no graph.
 */
public final class HeldOutLoss {

    /** @param stats how many examples were kept, truncated or dropped at {@code maxSeqLength} */
    public record Result(double loss, long targetTokens, ChatEncoder.Stats stats) {
        public double perplexity() {
            return Math.exp(loss);
        }
    }

    private HeldOutLoss() {}

    public static Result of(CausalLm model, Tokenizer tokenizer, ChatTemplate template, List<ChatExample> examples,
            int maxSeqLength, int batchSize) {
        ChatEncoder.Stats[] stats = new ChatEncoder.Stats[1];
        List<EncodedExample> encoded = new ChatEncoder(tokenizer, template, maxSeqLength, true).encodeAll(examples, stats);
        List<Batch> batches = BatchPlan.sequential(encoded, batchSize, TrainingData.padId(tokenizer));
        long targets = batches.stream().mapToLong(Batch::targets).sum();
        return new Result(mean(new TrainingForward(model), model, batches), targets, stats[0]);
    }

    /** NaN when no batch has a target token. */
    static double mean(TrainingForward forward, CausalLm model, List<Batch> batches) {
        double sum = 0;
        long targets = 0;
        try (NoGradient ignored = NoGradient.enter()) {
            for (Batch b : batches) {
                if (b.targets() == 0) {
                    continue;
                }
                try (NDManager scope = model.manager().newSubManager()) {
                    sum += forward.lossSum(scope, b).toType(DataType.FLOAT64, false).getDouble();
                    targets += b.targets();
                }
            }
        }
        return targets == 0 ? Double.NaN : sum / targets;
    }
}
