package dev.forgeline.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.hub.HubModelResolver;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.ChatTemplateException;
import dev.forgeline.engine.tokenizer.Tokenizer;
import dev.forgeline.engine.train.ChatDataset;
import dev.forgeline.engine.train.ChatExample;
import dev.forgeline.engine.train.HeldOutLoss;
import dev.forgeline.engine.train.HeldOutPreferences;
import dev.forgeline.engine.train.PreferenceDataset;
import dev.forgeline.engine.train.PreferenceExample;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import dev.forgeline.service.ForgeConfig;
import dev.forgeline.sources.DatasetSources;
import dev.forgeline.sources.ModelSources;
import jakarta.enterprise.context.ApplicationScoped;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;

/**
 * Handles {@code eval} jobs from {@link Topics#EVAL_REQUESTS}: scores the model (and its base, on
 * the same items) on a multiple-choice set and a held-out chat set, writes the report to
 * {@code evals/{job}/}, judges the model with the request's gate and publishes its updated card
 * on {@link Topics#MODELS}: {@code rejected} when the gate fails, {@code approved} when it passes
 * and the request's {@code then} names {@code deploy}, its status unchanged otherwise.
 */
@ApplicationScoped
public class EvalHandler implements JobHandler<EvalRequest> {
    static final String REPORT = "report.json";
    /** Held-out examples are cut at this many tokens (or the model's window, when shorter). */
    static final int HELD_OUT_MAX_TOKENS = 2048;
    private static final long BOOTSTRAP_SEED = 1234;

    private final ArtifactStore store;
    private final EvalConfig config;
    private final ModelSources models;
    private final DatasetSources datasets;
    private final EvalSets sets;

    EvalHandler(ArtifactStore store, ForgeConfig forge, EvalConfig config) {
        this.store = store;
        this.config = config;
        this.models = new ModelSources(store, forge.baseModels(), HubModelResolver::fromEnvironment, "evaluated");
        this.datasets = new DatasetSources(store);
        this.sets = new EvalSets(config.sets());
    }

    @Override
    public String kind() {
        return "eval";
    }

    @Override
    public String requestTopic() {
        return Topics.EVAL_REQUESTS;
    }

    @Override
    public Class<EvalRequest> requestType() {
        return EvalRequest.class;
    }

    @Override
    public JobResult run(JobContext<EvalRequest> ctx) throws Exception {
        EvalRequest r = ctx.request();
        // Everything a request can get wrong is checked before any model runs.
        ModelSources.ModelSource model = models.resolve("model", r.model());
        ModelSources.ModelSource base = r.baseModel() == null ? null : models.resolve("base_model", r.baseModel());
        List<Question> questions = r.dataset() == null ? List.of() : questions(r);
        HeldOutSet heldOut = r.heldOutDataset() == null ? null : heldOut(r.heldOutDataset());
        if (r.mode() == EvalRequest.Mode.GENERATE) {
            template(model);
            if (base != null) template(base);
        }
        Optional<ModelCard> card = model.registeredId() == null ? Optional.empty() : readCard(model.registeredId());

        JobProgress progress = new JobProgress(ctx, questions.size() * (base == null ? 1 : 2));
        ModelRun tuned = evaluate(model, r, questions, heldOut, progress);
        ModelRun reference = base == null ? null : evaluate(base, r, questions, heldOut, progress);

        Double rewardAccuracy = tuned.heldOutPairs() == null || reference == null ? null
                : tuned.heldOutPairs().rewardAccuracy(reference.heldOutPairs());
        GateVerdict verdict = GateVerdict.judge(r.gate(), new GateVerdict.Measured(tuned.micro(),
                reference == null ? null : reference.micro(), tuned.heldOutLoss(),
                reference == null ? null : reference.heldOutLoss(), rewardAccuracy));
        Map<String, Object> comparison = reference == null || questions.isEmpty() ? null : compare(tuned, reference);
        String dir = "evals/" + ctx.jobId() + "/";
        writeItems(dir + "items.jsonl", tuned);
        if (reference != null) writeItems(dir + "base_items.jsonl", reference);
        ModelCard.Status status = card.map(c -> !verdict.passed() ? ModelCard.Status.REJECTED
                : r.then().contains("deploy") ? ModelCard.Status.APPROVED : c.status()).orElse(null);
        Map<String, Object> report = report(ctx.jobId(), r, tuned, reference, comparison, verdict, status);
        if (rewardAccuracy != null) report.put("held_out_reward_accuracy", rewardAccuracy);
        store.write(dir + REPORT, ContractsJson.write(report).getBytes(StandardCharsets.UTF_8));
        String reportUri = store.uri(dir + REPORT).toString();

        JobResult result = JobResult.empty().withOutput("report_uri", reportUri)
                .withMetric("gate_passed", verdict.passed()).withOutput("gate_reason", verdict.reason());
        if (tuned.micro() != null) result = result.withMetric("accuracy", tuned.micro());
        if (reference != null && reference.micro() != null) result = result.withMetric("base_accuracy", reference.micro());
        if (tuned.heldOutLoss() != null) result = result.withMetric("held_out_loss", tuned.heldOutLoss());
        if (rewardAccuracy != null) result = result.withMetric("held_out_reward_accuracy", rewardAccuracy);
        if (card.isPresent()) {
            ModelCard updated = card.get().withStatus(status,
                    cardSummary(card.get().eval(), ctx.jobId(), r, tuned, reference, comparison, verdict, reportUri,
                            rewardAccuracy));
            writeCard(updated);
            ctx.publish(Topics.MODELS, updated.id(), updated).get();
            result = result.withOutput("model_status", status.name().toLowerCase(java.util.Locale.ROOT));
        } else if (r.then().contains("deploy")) {
            result = result.withOutput("model_status", "not in the registry: " + r.model() + " has no card to approve");
        }
        return result;
    }

    /** Each subject's test questions (capped by {@code limit}) with the first {@code num_fewshot} dev examples as shots. */
    private List<Question> questions(EvalRequest r) {
        McqSet set = sets.read(r.dataset());
        List<String> subjects = r.subjects().isEmpty() ? set.subjects() : r.subjects();
        List<Question> out = new ArrayList<>();
        for (String subject : subjects) {
            if (!set.subjects().contains(subject)) {
                throw new IllegalArgumentException("subject '" + subject + "' is not in dataset '" + r.dataset()
                        + "'; it has " + set.subjects().size() + " subjects: " + String.join(", ", set.subjects()));
            }
            List<McqItem> test = set.test(subject);
            if (test.isEmpty()) {
                throw new IllegalArgumentException("subject '" + subject + "' of dataset '" + r.dataset()
                        + "' has no test questions");
            }
            List<McqItem> dev = set.dev(subject);
            if (r.numFewshot() > dev.size()) {
                throw new IllegalArgumentException("num_fewshot " + r.numFewshot() + " but subject '" + subject
                        + "' has " + dev.size() + " dev examples");
            }
            List<McqItem> shots = dev.subList(0, r.numFewshot());
            for (McqItem item : r.limit() == null ? test : test.subList(0, Math.min(r.limit(), test.size()))) {
                out.add(new Question(item, shots));
            }
        }
        return out;
    }

    /** A held-out set: a chat set's examples or a preference set's pairs. */
    private record HeldOutSet(List<ChatExample> chats, List<PreferenceExample> pairs) {}

    /** The dataset's test split: preference pairs or chat examples, told apart as uploads are. */
    private HeldOutSet heldOut(String reference) throws IOException {
        DatasetSources.Dataset d = datasets.resolve(reference);
        if (d.heldOut() == null) {
            throw new IllegalArgumentException("held_out_dataset '" + reference + "' has no " + DatasetSources.TEST
                    + " (its test split)");
        }
        boolean pairs;
        try (var lines = Files.lines(d.heldOut(), StandardCharsets.UTF_8)) {
            pairs = PreferenceDataset.holdsPairs(lines);
        }
        return pairs ? new HeldOutSet(null, PreferenceDataset.read(d.heldOut())) : new HeldOutSet(ChatDataset.read(d.heldOut()), null);
    }

    private static ChatTemplate template(ModelSources.ModelSource model) {
        try {
            return ChatTemplate.fromModelDir(model.dir());
        } catch (ChatTemplateException e) {
            throw new IllegalArgumentException("model '" + model.reference() + "' has no chat template, which generate mode"
                    + " and the held-out loss need: " + e.getMessage(), e);
        }
    }

    private ModelRun evaluate(ModelSources.ModelSource source, EvalRequest r, List<Question> questions,
            HeldOutSet heldOut, JobProgress progress) {
        ComputeTarget target = ComputeTarget.parse(config.device(), "float32");
        try (LoadedModel loaded = LoadedModel.load(source.dir(), target); Tokenizer tokenizer = Tokenizer.load(source.dir())) {
            long started = System.nanoTime();
            List<ItemResult> items = List.of();
            if (!questions.isEmpty()) {
                progress.startModel(source.reference());
                items = r.mode() == EvalRequest.Mode.GENERATE
                        ? new McqGenerator(loaded, tokenizer, template(source), r.maxNewTokens(), config.generateBatch())
                                .answer(questions, r.numFewshot(), progress::itemsDone)
                        : new McqScorer(loaded, tokenizer, config.maxBatchTokens())
                                .score(questions, r.numFewshot(), progress::itemsDone);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            int maxTokens = Math.min(HELD_OUT_MAX_TOKENS, loaded.config().maxPositionEmbeddings());
            HeldOutLoss.Result loss = heldOut == null || heldOut.chats() == null ? null
                    : HeldOutLoss.of(loaded.model(), tokenizer, template(source), heldOut.chats(), maxTokens, 8);
            HeldOutPreferences.Result pairs = heldOut == null || heldOut.pairs() == null ? null
                    : HeldOutPreferences.of(loaded.model(), tokenizer, template(source), heldOut.pairs(), maxTokens, 4);
            return new ModelRun(source.reference(), r.numFewshot(), items, seconds, loss, pairs);
        }
    }

    /** The model against its base on the same items: accuracy difference, McNemar's exact test, paired bootstrap. */
    private Map<String, Object> compare(ModelRun tuned, ModelRun base) {
        boolean[] a = tuned.correct();
        boolean[] b = base.correct();
        int onlyModel = 0;
        int onlyBase = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] && !b[i]) onlyModel++;
            if (b[i] && !a[i]) onlyBase++;
        }
        double[] interval = Accuracy.pairedBootstrapInterval(a, b, config.bootstrapResamples(), BOOTSTRAP_SEED);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("items", a.length);
        c.put("accuracy_diff", tuned.micro() - base.micro());
        c.put("only_model_right", onlyModel);
        c.put("only_base_right", onlyBase);
        c.put("mcnemar_exact_p", Accuracy.mcnemarExactP(onlyModel, onlyBase));
        c.put("bootstrap_95", List.of(interval[0], interval[1]));
        c.put("bootstrap_resamples", config.bootstrapResamples());
        return c;
    }

    private static Map<String, Object> report(String jobId, EvalRequest r, ModelRun tuned, ModelRun base,
            Map<String, Object> comparison, GateVerdict verdict, ModelCard.Status status) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", jobId);
        m.put("request", r);
        m.put("model", tuned.summary());
        if (base != null) m.put("base", base.summary());
        if (comparison != null) m.put("comparison", comparison);
        Map<String, Object> gate = new LinkedHashMap<>();
        gate.put("passed", verdict.passed());
        gate.put("reason", verdict.reason());
        gate.put("checks", verdict.checks());
        gate.put("model_status", status);
        m.put("gate", gate);
        return m;
    }

    /** The card's eval section: what training put there, overwritten by this evaluation's figures. */
    private static Map<String, Object> cardSummary(Map<String, Object> previous, String jobId, EvalRequest r, ModelRun tuned,
            ModelRun base, Map<String, Object> comparison, GateVerdict verdict, String reportUri, Double rewardAccuracy) {
        Map<String, Object> e = new LinkedHashMap<>(previous);
        e.put("eval_job_id", jobId);
        e.put("report_uri", reportUri);
        if (tuned.micro() != null) {
            e.put("eval_dataset", r.dataset());
            e.put("mode", r.mode());
            e.put("num_fewshot", r.numFewshot());
            e.put("items", tuned.items().size());
            e.put("accuracy", tuned.micro());
            e.put("accuracy_stderr", ModelRun.finite(tuned.accuracy().micro().stderr()));
            e.put("accuracy_macro", tuned.accuracy().macro().accuracy());
        }
        if (base != null && base.micro() != null) e.put("base_accuracy", base.micro());
        if (comparison != null) {
            e.put("accuracy_diff", comparison.get("accuracy_diff"));
            e.put("accuracy_diff_95ci", comparison.get("bootstrap_95"));
            e.put("mcnemar_exact_p", comparison.get("mcnemar_exact_p"));
        }
        if (tuned.heldOutLoss() != null) {
            e.put("held_out_loss", tuned.heldOutLoss());
            e.put("held_out_perplexity", Math.exp(tuned.heldOutLoss()));
        }
        if (base != null && base.heldOutLoss() != null) e.put("base_held_out_loss", base.heldOutLoss());
        if (rewardAccuracy != null) e.put("held_out_reward_accuracy", rewardAccuracy);
        e.put("gate", verdict.passed() ? "passed" : "failed");
        e.put("gate_reason", verdict.reason());
        return e;
    }

    private void writeItems(String path, ModelRun run) throws IOException {
        StringBuilder out = new StringBuilder();
        for (ItemResult item : run.items()) {
            out.append(ContractsJson.write(item.toJson())).append('\n');
        }
        store.write(path, out.toString().getBytes(StandardCharsets.UTF_8));
    }

    private Optional<ModelCard> readCard(String id) throws IOException {
        String path = "models/" + id + "/card.json";
        return store.exists(path) ? Optional.of(ContractsJson.read(new String(store.read(path), StandardCharsets.UTF_8),
                ModelCard.class)) : Optional.empty();
    }

    /** card.json is the registry card plus what the trainer added (its training details), which stays. */
    private void writeCard(ModelCard card) throws IOException {
        String path = "models/" + card.id() + "/card.json";
        ObjectNode json = (ObjectNode) ContractsJson.mapper().readTree(store.read(path));
        json.setAll((ObjectNode) ContractsJson.mapper().valueToTree(card));
        store.write(path, ContractsJson.write(json).getBytes(StandardCharsets.UTF_8));
    }

    /** Progress events over both models' items: done, items/s, ETA; at most one every two seconds. */
    static final class JobProgress {
        private static final long EVERY_NANOS = TimeUnit.SECONDS.toNanos(2);
        private final JobContext<?> ctx;
        private final int total;
        private int before; // items of models already finished
        private String model;
        private long started;
        private long lastReport;

        JobProgress(JobContext<?> ctx, int total) {
            this.ctx = ctx;
            this.total = total;
        }

        void startModel(String name) {
            if (model != null) {
                before += total / 2;
            }
            model = name;
            started = System.nanoTime();
            lastReport = 0;
        }

        /** Called by the scorers between batches; stops the job here when it is cancelled. */
        void itemsDone(int done) {
            if (ctx.isCancelled()) {
                throw new CancellationException("evaluation cancelled");
            }
            long now = System.nanoTime();
            int all = before + done;
            if (now - lastReport < EVERY_NANOS && all < total) {
                return;
            }
            lastReport = now;
            double rate = done / Math.max(1e-9, (now - started) / 1e9);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("items_done", all);
            m.put("items_total", total);
            m.put("items_per_s", Math.round(rate * 10) / 10.0);
            m.put("eta_s", rate > 0 ? Math.round((total - all) / rate) : null);
            ctx.progress(total == 0 ? 1 : (double) all / total, m);
        }
    }
}
