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
 * {@code output/adapter/} (LoRA, PEFT layout) and {@code output/card.json}. With objective DPO
 * the files are preference JSONL ({@link PreferenceDataset}) and the card's eval holds the
 * held-out preference accuracy.
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

    /**
     * The outcome; {@code card} is null when cancelled. SFT fills {@code trainStats}, DPO
     * {@code heldOut} (the last held-out preference measures; null without a held-out set).
     */
    public record Outcome(TrainingResult result, Map<String, Object> card, ChatEncoder.Stats trainStats,
            PreferenceMetrics heldOut) {}

    private FineTune() {}

    public static Outcome run(Job job, TrainingListener listener, BooleanSupplier cancelled) {
        TrainingConfig config = job.config().validate();
        if (!Files.isRegularFile(job.baseModel().resolve("config.json"))) {
            throw new IllegalArgumentException("base model " + job.baseModel() + " has no config.json");
        }
        boolean dpo = config.objective() == TrainingConfig.Objective.DPO;
        List<ChatExample> train = dpo ? null : ChatDataset.read(job.train());
        List<ChatExample> heldOut = dpo || job.heldOut() == null ? List.of() : ChatDataset.read(job.heldOut());
        List<PreferenceExample> trainPairs = dpo ? PreferenceDataset.read(job.train()) : null;
        List<PreferenceExample> heldOutPairs = dpo && job.heldOut() != null ? PreferenceDataset.read(job.heldOut()) : List.of();
        List<Path> datasetFiles = new ArrayList<>(List.of(job.train()));
        if (job.heldOut() != null) {
            datasetFiles.add(job.heldOut());
        }
        String datasetHash = ChatDataset.contentHash(datasetFiles);
        TrainingListener outer = listener == null ? TrainingListener.NONE : listener;
        try (Tokenizer tokenizer = Tokenizer.load(job.baseModel());
                CausalLm model = CausalLm.load(job.baseModel(), job.device() == null ? Device.cpu() : job.device(),
                        DataType.FLOAT32)) {
            ChatTemplate template = ChatTemplate.fromModelDir(job.baseModel());
            Trainer trainer = new Trainer(model, config);
            TrainingResult result;
            ChatEncoder.Stats sftStats = null;
            Map<String, Object> counts = new LinkedHashMap<>();
            List<PreferenceMetrics> evaluations = new ArrayList<>();
            if (dpo) {
                PreferenceData data = PreferenceData.encode(tokenizer, template, config, trainPairs, heldOutPairs);
                result = trainer.train(data, new TrainingListener() {
                    @Override
                    public void onStep(TrainingProgress progress) {
                        outer.onStep(progress);
                    }

                    @Override
                    public void onEvaluation(int step, double heldOutLoss) {
                        outer.onEvaluation(step, heldOutLoss);
                    }

                    @Override
                    public void onPreferenceEvaluation(int step, PreferenceMetrics m) {
                        evaluations.add(m);
                        outer.onPreferenceEvaluation(step, m);
                    }

                    @Override
                    public void onCheckpoint(int step, Path directory) {
                        outer.onCheckpoint(step, directory);
                    }
                }, job.checkpoints(), cancelled);
                counts.put("train_pairs", data.trainStats().pairs());
                counts.put("truncated_pairs", data.trainStats().truncated());
                counts.put("dropped_pairs", data.trainStats().dropped());
            } else {
                TrainingData data = TrainingData.encode(tokenizer, template, config, train, heldOut);
                result = trainer.train(data, outer, job.checkpoints(), cancelled);
                sftStats = data.trainStats();
                counts.put("train_examples", data.trainStats().examples());
                counts.put("truncated_examples", data.trainStats().truncated());
                counts.put("dropped_examples", data.trainStats().dropped());
            }
            PreferenceMetrics last = evaluations.isEmpty() ? null : evaluations.get(evaluations.size() - 1);
            if (result.cancelled()) {
                return new Outcome(result, null, sftStats, last);
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
            Map<String, Object> card = card(job, datasetHash, config, result, counts,
                    evaluations.isEmpty() || result.resumedFromStep() > 0 ? null : evaluations.get(0), last);
            ModelExport.writeCard(job.output(), card);
            return new Outcome(result, card, sftStats, last);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** @param before, after DPO's held-out measures before and after training; null for SFT (or a resumed run's before) */
    static Map<String, Object> card(Job job, String datasetHash, TrainingConfig config, TrainingResult r,
            Map<String, Object> counts, PreferenceMetrics before, PreferenceMetrics after) {
        Map<String, Object> card = new LinkedHashMap<>();
        card.put("base_model", job.baseModel().toString());
        card.put("dataset_hash", "sha256:" + datasetHash);
        card.put("method", config.objective() == TrainingConfig.Objective.DPO ? "dpo" : config.method().name().toLowerCase());
        card.put("hyperparameters", config.toMap());
        Map<String, Object> training = new LinkedHashMap<>();
        training.put("steps", r.steps());
        training.put("final_train_loss", r.finalTrainLoss());
        training.put("initial_held_out_loss", r.initialHeldOutLoss());
        training.put("final_held_out_loss", r.finalHeldOutLoss());
        training.put("trained_tokens", r.trainedTokens());
        training.put("seconds", r.seconds());
        training.putAll(counts);
        card.put("training", training);
        Map<String, Object> eval = new LinkedHashMap<>();
        if (r.finalHeldOutLoss() != null) {
            eval.put("held_out_loss", r.finalHeldOutLoss());
        }
        if (after != null) {
            eval.put("held_out_preference_accuracy", after.accuracy());
            eval.put("held_out_reward_margin", after.rewardMargin());
        }
        if (before != null) {
            eval.put("base_held_out_preference_accuracy", before.accuracy());
        }
        card.put("eval", eval);
        card.put("created_at", Instant.now().toString());
        return card;
    }
}
