package dev.forgeline.datagen;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.PreferenceLine;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.datagen.cleaning.DatasetFiles;
import dev.forgeline.datagen.cleaning.ExampleCheck;
import dev.forgeline.datagen.generation.ExampleGeneration;
import dev.forgeline.datagen.generation.GenerationStats;
import dev.forgeline.datagen.importers.DatasetImport;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Handles {@code datagen} jobs from {@link Topics#DATAGEN_REQUESTS}: generates examples with the
 * teacher ({@link ExampleGeneration}) or imports a file ({@link DatasetImport}; chat examples, or
 * preference pairs for a {@code preference} dataset), writes
 * {@code datasets/{id}/} (train, test and card), publishes the card on {@link Topics#DATASETS}, and,
 * when {@code then} starts with {@code train}, the training request.
 */
@ApplicationScoped
public class DatagenHandler implements JobHandler<DatagenRequest> {

    private final ArtifactStore store;
    private final TeacherFactory teachers;

    DatagenHandler(ArtifactStore store, DatagenConfig config) {
        this.store = store;
        this.teachers = new TeacherFactory(TeacherFactory.Settings.of(config.teacher()));
    }

    @Override
    public String kind() {
        return "datagen";
    }

    @Override
    public String requestTopic() {
        return Topics.DATAGEN_REQUESTS;
    }

    @Override
    public Class<DatagenRequest> requestType() {
        return DatagenRequest.class;
    }

    @Override
    public JobResult run(JobContext<DatagenRequest> ctx) throws Exception {
        DatagenRequest r = ctx.request();
        Made made = r.imports() ? importFile(r) : generate(ctx, r);

        DatasetFiles.Written files = made.format().equals("preference")
                ? DatasetFiles.writeLines(store, r.datasetId(), made.pairs(), PreferenceLine::toJson, r.testFraction(), r.seed()).written()
                : DatasetFiles.write(store, r.datasetId(), made.kept(), made.systemPrompt(), r.testFraction(), r.seed());
        Map<String, Object> stats = new LinkedHashMap<>(made.stats());
        stats.put("train", files.train());
        stats.put("test", files.test());
        DatasetCard card = new DatasetCard(r.datasetId(), r.task(), made.format(), files.trainUri(), files.testUri(), files.train(),
                files.test(), files.contentHash(), made.teacher(), made.source(), made.systemPrompt(), stats, Instant.now(), 0);
        String cardUri = DatasetFiles.writeCard(store, card);
        ctx.publish(Topics.DATASETS, card.id(), card).get();

        int kept = made.format().equals("preference") ? made.pairs().size() : made.kept().size();
        JobResult result = JobResult.empty().withOutput("dataset_id", card.id()).withOutput("train_uri", files.trainUri())
                .withOutput("test_uri", files.testUri()).withOutput("card_uri", cardUri)
                .withMetric("kept", kept).withMetric("train", files.train()).withMetric("test", files.test());
        if (Boolean.TRUE.equals(stats.get("stopped_at_budget"))) {
            result = result.withOutput("stopped", "at the token budget, with " + kept + " of " + r.numExamples() + " examples");
        }
        if (r.then().contains("train")) {
            TrainingRequest next = r.trainingRequest();
            ctx.publish(Topics.TRAINING_REQUESTS, next.jobId(), next).get();
            result = result.withOutput("training_job_id", next.jobId());
        }
        return result;
    }

    /**
     * What either way produced: the examples (chat) or pairs (preference), the system prompt on them,
     * the counts, and provenance.
     */
    private record Made(String format, List<Conversation> kept, List<PreferenceLine> pairs, String systemPrompt,
            Map<String, Object> stats, String teacher, String source) {}

    private Made generate(JobContext<DatagenRequest> ctx, DatagenRequest r) throws Exception {
        TeacherFactory.Resolved teacher = teachers.resolve(r.teacher());
        ExampleProgress progress = new ExampleProgress(ctx, r.numExamples());
        ExampleGeneration generation = new ExampleGeneration(teacher.teacher(), r,
                ExampleCheck.defaults(), store, ctx::isCancelled, progress);
        ExampleGeneration.Result result = generation.run(ctx.lastCheckpoint().isPresent());
        if (result.kept().isEmpty()) {
            throw new IllegalStateException("no usable example was made: " + result.stats().toMap());
        }
        return new Made("chat", result.kept(), List.of(), result.systemPrompt(), result.stats().toMap(), teacher.name(),
                "generated:" + r.jobId());
    }

    private Made importFile(DatagenRequest r) throws Exception {
        String source = "import:" + r.source().format().name().toLowerCase(java.util.Locale.ROOT) + ":" + r.source().path();
        if (r.source().format() == DatagenRequest.Format.PREFERENCE) {
            DatasetImport.Result<PreferenceLine> imported = new DatasetImport(store).preferences(r);
            Map<String, Object> stats = new LinkedHashMap<>(imported.stats());
            stats.put("pairs", imported.kept().size());
            return new Made("preference", List.of(), imported.kept(), r.systemPrompt(), stats, null, source);
        }
        DatasetImport.Result<Conversation> imported = new DatasetImport(store).run(r);
        return new Made("chat", imported.kept(), List.of(), r.systemPrompt(), imported.stats(), null, source);
    }

    /** Progress events at most once a second: examples kept, calls, tokens and the time left at the current rate. */
    private static final class ExampleProgress implements ExampleGeneration.Listener {
        private final JobContext<DatagenRequest> ctx;
        private final int target;
        private long started;
        private long keptAtStart = -1; // a resumed job starts with examples made before
        private long lastEvent;

        ExampleProgress(JobContext<DatagenRequest> ctx, int target) {
            this.ctx = ctx;
            this.target = target;
        }

        @Override
        public void progress(GenerationStats stats) {
            long now = System.nanoTime();
            long kept = stats.keptCount();
            if (keptAtStart < 0) {
                keptAtStart = kept;
                started = now;
            }
            if (now - lastEvent < 1_000_000_000L && kept < target) {
                return;
            }
            lastEvent = now;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("examples_kept", kept);
            m.put("answers", stats.returnedCount());
            m.put("teacher_calls", stats.callCount());
            m.put("teacher_tokens", stats.tokensUsed());
            double seconds = (now - started) / 1e9;
            long madeHere = kept - keptAtStart;
            if (madeHere > 0 && kept < target) {
                m.put("eta_s", Math.round(seconds / madeHere * (target - kept)));
            }
            ctx.progress(Math.min(1.0, (double) kept / target), m);
        }

        @Override
        public void saved(String marker) {
            ctx.checkpoint(marker);
        }
    }
}
