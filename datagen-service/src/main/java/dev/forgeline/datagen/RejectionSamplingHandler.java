package dev.forgeline.datagen;

import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.contracts.RejectionSamplingRequest.Output;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.datagen.cleaning.DatasetFiles;
import dev.forgeline.datagen.importers.DatasetImport;
import dev.forgeline.datagen.importers.DatasetImporter;
import dev.forgeline.datagen.rejection.PromptSamples;
import dev.forgeline.datagen.rejection.PromptSource;
import dev.forgeline.datagen.rejection.RejectionSampling;
import dev.forgeline.datagen.rejection.SampleLedger;
import dev.forgeline.datagen.rejection.SamplePrompt;
import dev.forgeline.datagen.rejection.Scorer;
import dev.forgeline.datagen.rejection.Selection;
import dev.forgeline.datagen.teacher.Teacher;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Handles {@code rejection-sampling} jobs from {@link Topics#REJECTION_SAMPLING_REQUESTS}: reads the
 * prompts, samples and scores them ({@link RejectionSampling}), writes the SFT set and/or the
 * preference set ({@link Selection}) with their cards, publishes the cards on {@link Topics#DATASETS},
 * and, when {@code then} starts with {@code train}, the training request.
 */
@ApplicationScoped
public class RejectionSamplingHandler implements JobHandler<RejectionSamplingRequest> {
    /** Progress events at most this often. */
    private static final long EVENT_EVERY_NANOS = 1_000_000_000L;
    private static final int LINES_SHOWN = 100;

    private final ArtifactStore store;
    private final TeacherFactory policies;
    private final TeacherFactory judges;

    RejectionSamplingHandler(ArtifactStore store, DatagenConfig config) {
        this.store = store;
        this.policies = new TeacherFactory(TeacherFactory.Settings.of(config.policy()));
        this.judges = new TeacherFactory(TeacherFactory.Settings.of(config.teacher()));
    }

    @Override
    public String kind() {
        return "rejection-sampling";
    }

    @Override
    public String requestTopic() {
        return Topics.REJECTION_SAMPLING_REQUESTS;
    }

    @Override
    public Class<RejectionSamplingRequest> requestType() {
        return RejectionSamplingRequest.class;
    }

    @Override
    public JobResult run(JobContext<RejectionSamplingRequest> ctx) throws Exception {
        RejectionSamplingRequest r = ctx.request();
        DatasetImporter.Imported<SamplePrompt> read = PromptSource.read(new DatasetImport(store), r.prompts());
        if (read.examples().isEmpty()) {
            throw new IllegalArgumentException("no usable prompt in " + r.prompts() + ": " + read.malformed().stream()
                    .limit(10).map(m -> "line " + m.line() + ": " + m.reason()).toList());
        }
        RejectionSamplingRequest.Policy p = r.policy();
        TeacherFactory.Resolved policy = policies.resolve(new DatagenRequest.Teacher(p.baseUrl(), p.model(), p.apiKeyEnv()));
        Teacher judge = r.scorer().type() == RejectionSamplingRequest.Type.JUDGE ? judges.resolve(r.scorer().judge()).teacher() : null;
        Scorer scorer = Scorer.of(r.scorer(), judge);

        SampleLedger ledger = new SampleLedger(store, r.jobId());
        Map<Integer, PromptSamples> done = ctx.lastCheckpoint().isPresent()
                ? ledger.load(ctx.lastCheckpoint().get(), read.examples()) : Map.of();
        RejectionSampling sampling = new RejectionSampling(policy.teacher(), scorer, r, ctx::isCancelled);
        long[] lastEvent = {0};
        List<PromptSamples> all = sampling.run(read.examples(), done, (samples, progress) -> {
            try {
                ledger.add(samples, progress.promptsDone() == progress.prompts()).ifPresent(ctx::checkpoint);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            long now = System.nanoTime();
            if (now - lastEvent[0] >= EVENT_EVERY_NANOS || progress.promptsDone() == progress.prompts()) {
                lastEvent[0] = now;
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("prompts_done", progress.promptsDone());
                m.put("prompts", progress.prompts());
                m.put("answers", progress.answers());
                m.put("policy_tokens", progress.promptTokens() + progress.completionTokens());
                ctx.progress((double) progress.promptsDone() / progress.prompts(), m);
            }
        });
        if (ctx.isCancelled()) {
            return JobResult.empty();
        }

        Selection selection = Selection.of(all, r.threshold());
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("lines", read.lines());
        stats.put("malformed", read.malformed().size());
        stats.put("malformed_lines", read.malformed().stream().limit(LINES_SHOWN)
                .map(m -> Map.of("line", m.line(), "reason", m.reason())).toList());
        stats.put("scorer", r.scorer().type().key());
        stats.put("num_samples", r.numSamples());
        stats.putAll(selection.stats());
        stats.put("policy_tokens", Map.of("prompt", sampling.promptTokens(), "completion", sampling.completionTokens()));

        JobResult result = JobResult.empty().withMetric("prompts", all.size()).withMetric("kept", selection.sft().size())
                .withMetric("pairs", selection.pairs().size());
        if (selection.stats().get("mean_score") instanceof Double mean) result = result.withMetric("mean_score", mean);
        String source = "rejection-sampling:" + r.jobId();
        if (r.writes(Output.SFT)) {
            DatasetCard card = register(ctx, r.sftDatasetId(), "chat", selection.sft(), Selection.ScoredExample::toJson, stats,
                    policy.name(), source, r);
            result = result.withOutput("sft_dataset_id", card.id());
        }
        if (r.writes(Output.PREFERENCE)) {
            DatasetCard card = register(ctx, r.preferenceDatasetId(), "preference", selection.pairs(),
                    Selection.ScoredPair::toJson, stats, policy.name(), source, r);
            result = result.withOutput("preference_dataset_id", card.id());
        }
        if (r.then().contains("train")) {
            TrainingRequest next = r.trainingRequest();
            for (TrainingRequest step = next; step != null; step = step.train()) { // a round trains on both sets
                boolean empty = r.preferenceDatasetId().equals(step.dataset()) ? selection.pairs().isEmpty()
                        : r.sftDatasetId().equals(step.dataset()) && selection.sft().isEmpty();
                if (empty) {
                    throw new IllegalStateException("nothing for the " + step.method().wireName() + " step to train on: " + stats);
                }
            }
            ctx.publish(Topics.TRAINING_REQUESTS, next.jobId(), next).get();
            result = result.withOutput("training_job_id", next.jobId());
        }
        return result;
    }

    /** Writes one output dataset (a seeded split, as every dataset) and its card, and publishes the card. */
    private <T> DatasetCard register(JobContext<RejectionSamplingRequest> ctx, String id, String format, List<T> items,
            Function<T, Object> json, Map<String, Object> selectionStats, String policy, String source,
            RejectionSamplingRequest r) throws Exception {
        DatasetFiles.Written files = DatasetFiles.writeLines(store, id, items, json, r.testFraction(), r.seed()).written();
        Map<String, Object> stats = new LinkedHashMap<>(selectionStats);
        stats.put("train", files.train());
        stats.put("test", files.test());
        DatasetCard card = new DatasetCard(id, null, format, files.trainUri(), files.testUri(), files.train(), files.test(),
                files.contentHash(), policy, source, null, stats, Instant.now(), 0);
        DatasetFiles.writeCard(store, card);
        ctx.publish(Topics.DATASETS, card.id(), card).get();
        return card;
    }
}
