package dev.forgeline.engine.train;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * One fine-tuning job from files to files, what the trainer service calls: load the base model
 * (float32, CPU unless told), read and encode the chat JSONL, train (resuming from
 * {@code checkpoints}), then write {@code output/} as a merged Hugging Face model with
 * {@code output/adapter/} (LoRA, PEFT layout) and {@code output/card.json}.
 *
 * <p>Failures a user can fix (missing model or dataset, malformed JSONL, bad hyperparameters)
 * surface as {@link DatasetException}, {@link IllegalArgumentException} or
 * {@link dev.forgeline.engine.ModelFormatException} with a message meant for the job status.
 */
public final class FineTune {

    /**
     * @param heldOut test.jsonl, or null
     * @param output  nothing is written there when the run is cancelled
     */
    public record Job(Path baseModel, Path train, Path heldOut, TrainingConfig config, Path output, Path checkpoints,
            Device device) {}

    /** The outcome; {@code card} is null when cancelled. */
    public record Outcome(TrainingResult result, Map<String, Object> card, ChatEncoder.Stats trainStats) {}

    private FineTune() {}

    public static Outcome run(Job job, TrainingListener listener, BooleanSupplier cancelled) {
        TrainingConfig config = job.config().validate();
        if (!Files.isRegularFile(job.baseModel().resolve("config.json"))) {
            throw new IllegalArgumentException("base model " + job.baseModel() + " has no config.json");
        }
        List<ChatExample> train = ChatDataset.read(job.train());
        List<ChatExample> heldOut = job.heldOut() == null ? List.of() : ChatDataset.read(job.heldOut());
        List<Path> datasetFiles = new ArrayList<>(List.of(job.train()));
        if (job.heldOut() != null) {
            datasetFiles.add(job.heldOut());
        }
        String datasetHash = ChatDataset.contentHash(datasetFiles);
        try (Tokenizer tokenizer = Tokenizer.load(job.baseModel());
                CausalLm model = CausalLm.load(job.baseModel(), job.device() == null ? Device.cpu() : job.device(),
                        DataType.FLOAT32)) {
            TrainingData data = TrainingData.encode(tokenizer, ChatTemplate.fromModelDir(job.baseModel()), config, train,
                    heldOut);
            Trainer trainer = new Trainer(model, config);
            TrainingResult result = trainer.train(data, listener, job.checkpoints(), cancelled);
            if (result.cancelled()) {
                return new Outcome(result, null, data.trainStats());
            }
            trainer.trainable().freeze();
            if (config.method() == TrainingConfig.Method.LORA) {
                // The adapter first: merging folds it into the weights and detaches it.
                Path adapterTmp = job.output().resolveSibling(job.output().getFileName() + ".adapter");
                ModelExport.writeAdapter(trainer.trainable(), config.lora(), job.baseModel().toString(), adapterTmp);
                ModelExport.writeMerged(model, job.baseModel(), job.output());
                java.nio.file.Files.move(adapterTmp, job.output().resolve("adapter"));
            } else {
                ModelExport.writeMerged(model, job.baseModel(), job.output());
            }
            Map<String, Object> card = card(job, datasetHash, config, result, data);
            ModelExport.writeCard(job.output(), card);
            return new Outcome(result, card, data.trainStats());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static Map<String, Object> card(Job job, String datasetHash, TrainingConfig config, TrainingResult r, TrainingData data) {
        Map<String, Object> card = new LinkedHashMap<>();
        card.put("base_model", job.baseModel().toString());
        card.put("dataset_hash", "sha256:" + datasetHash);
        card.put("method", config.method().name().toLowerCase());
        card.put("hyperparameters", config.toMap());
        Map<String, Object> training = new LinkedHashMap<>();
        training.put("steps", r.steps());
        training.put("final_train_loss", r.finalTrainLoss());
        training.put("initial_held_out_loss", r.initialHeldOutLoss());
        training.put("final_held_out_loss", r.finalHeldOutLoss());
        training.put("trained_tokens", r.trainedTokens());
        training.put("seconds", r.seconds());
        training.put("train_examples", data.trainStats().examples());
        training.put("truncated_examples", data.trainStats().truncated());
        training.put("dropped_examples", data.trainStats().dropped());
        card.put("training", training);
        Map<String, Object> eval = new LinkedHashMap<>();
        if (r.finalHeldOutLoss() != null) {
            eval.put("held_out_loss", r.finalHeldOutLoss());
        }
        card.put("eval", eval);
        card.put("created_at", Instant.now().toString());
        return card;
    }
}
