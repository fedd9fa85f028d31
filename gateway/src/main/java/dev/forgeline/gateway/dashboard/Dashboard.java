package dev.forgeline.gateway.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.gateway.dashboard.DashboardProtocol.Curve;
import dev.forgeline.gateway.dashboard.DashboardProtocol.DatasetSummary;
import dev.forgeline.gateway.dashboard.DashboardProtocol.DatasetView;
import dev.forgeline.gateway.dashboard.DashboardProtocol.EvalView;
import dev.forgeline.gateway.dashboard.DashboardProtocol.JobEvents;
import dev.forgeline.gateway.dashboard.DashboardProtocol.JobRef;
import dev.forgeline.gateway.dashboard.DashboardProtocol.JobRow;
import dev.forgeline.gateway.dashboard.DashboardProtocol.ModelView;
import dev.forgeline.gateway.dashboard.DashboardProtocol.SubjectRow;
import dev.forgeline.gateway.platform.Platform;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.jobs.PlatformView;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The dashboard's data: the platform's topics ({@link PlatformView}) and the evaluation reports
 * and datasets in the artifact store, shaped for the page. Every lookup by an id the client sent
 * ends in a 404 in OpenAI's shape when nothing has that id; ids never become paths unchecked.
 */
@ApplicationScoped
public class Dashboard {

    /** Job, model and dataset ids as the services make them; anything else never names a file. */
    private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,199}");
    private static final Pattern REPORT_URI = Pattern.compile("(?:^|/)evals/([^/]+)/report\\.json$");
    public static final int MAX_EXAMPLES = 200;

    @Inject
    Platform platform;

    @Inject
    ArtifactStore store;

    private final Set<Subscriber> subscribers = new CopyOnWriteArraySet<>();
    private volatile PlatformView listening;

    /** Someone following statuses (and the events of one job, when {@code jobId} is set) live. */
    public record Subscriber(String jobId, Consumer<JobStatus> onStatus, Consumer<JobEvent> onEvent) {}

    // ---- jobs -------------------------------------------------------------------------------

    public List<JobRow> jobs() {
        Instant now = Instant.now();
        return view().jobs().stream().map(s -> row(s, now)).toList();
    }

    public JobRow job(String id) {
        return row(status(id), Instant.now());
    }

    public static JobRow row(JobStatus s, Instant now) {
        Long age = s.createdAt() == null ? null : Math.max(0, Duration.between(s.createdAt(), now).toSeconds());
        return new JobRow(s.jobId(), s.kind(), s.state() == null ? null : s.state().name(), s.progress(), s.metrics(),
                s.result(), s.error(), s.checkpoint(), s.attempt(), s.createdAt(), s.updatedAt(), age);
    }

    /**
     * A job's curves. A resumed job reports some steps twice (once per attempt); the later attempt's
     * value is the one its model carries on from, so it wins.
     */
    public JobEvents events(String id, int latest) {
        JobStatus s = status(id);
        List<JobEvent> events = view().events(id);
        TreeMap<Integer, Double> train = new TreeMap<>();
        TreeMap<Integer, Double> heldOut = new TreeMap<>();
        for (JobEvent e : events) {
            Integer step = integer(e.data().get("step"));
            if (step == null) {
                continue;
            }
            Double loss = finite(e.data().get("loss"));
            if (loss != null && JobEvent.PROGRESS.equals(e.type())) {
                train.put(step, loss);
            }
            Double held = finite(e.data().get("held_out_loss"));
            if (held != null) {
                heldOut.put(step, held);
            }
        }
        List<Map<String, Object>> tail = new ArrayList<>();
        for (JobEvent e : events.subList(Math.max(0, events.size() - latest), events.size())) {
            tail.add(event(e));
        }
        return new JobEvents(id, s.kind(), s.state() == null ? null : s.state().name(), curve(train), curve(heldOut),
                events.size(), tail);
    }

    public static Map<String, Object> event(JobEvent e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", e.jobId());
        m.put("attempt", e.attempt());
        m.put("seq", e.seq());
        m.put("type", e.type());
        m.put("timestamp", e.timestamp() == null ? null : e.timestamp().toString());
        m.put("data", e.data());
        return m;
    }

    private static Curve curve(TreeMap<Integer, Double> points) {
        return new Curve(List.copyOf(points.keySet()), List.copyOf(points.values()));
    }

    private JobStatus status(String id) {
        return view().job(id).orElseThrow(() -> ApiError.notFound("No job with id '" + id + "'"));
    }

    // ---- models -----------------------------------------------------------------------------

    public List<ModelView> models() {
        PlatformView v = view();
        return v.models().stream()
                .sorted(Comparator.comparing(ModelCard::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))
                        .thenComparing(ModelCard::id))
                .map(c -> model(v, c)).toList();
    }

    public ModelView model(String id) {
        PlatformView v = view();
        return model(v, card(v, id));
    }

    private ModelCard card(PlatformView v, String id) {
        return v.model(id).orElseThrow(() -> ApiError.modelNotFound(id));
    }

    private ModelView model(PlatformView v, ModelCard c) {
        DatasetCard dataset = c.datasetId() == null ? null : v.dataset(c.datasetId()).orElse(null);
        Optional<JobStatus> train = c.jobId() == null ? Optional.empty() : v.job(c.jobId());
        String evalJobId = evalJobId(c);
        Optional<JobStatus> eval = evalJobId == null ? Optional.empty() : v.job(evalJobId);
        String datagen = dataset != null && dataset.source() != null && dataset.source().startsWith("generated:")
                ? dataset.source().substring("generated:".length()) : null;
        Object gate = c.eval().get("gate");
        Object reason = c.eval().get("gate_reason");
        return new ModelView(c.id(), status(c.status()), c.method(), c.baseModel(), c.parent(), c.createdAt(),
                dataset == null ? null : dataset.task(), c.datasetId(), c.datasetHash(),
                dataset == null ? null : summary(dataset), datagen,
                c.jobId() == null ? null : new JobRef(c.jobId(), train.map(s -> s.state().name()).orElse(null)),
                train.map(s -> s.result().get("adapter_uri")).map(String::valueOf).orElse(null), c.artifactUri(),
                evalJobId == null ? null : new JobRef(evalJobId, eval.map(s -> s.state().name()).orElse(null)),
                gate == null ? null : String.valueOf(gate), reason == null ? null : String.valueOf(reason),
                c.eval(), c.hyperparameters(), c.parents());
    }

    private static String status(ModelCard.Status s) {
        return s == null ? null : s.name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The evaluation job of a model: the one its card names (eval_job_id, or the folder of its
     * report_uri); else, for a trained model, the chain's {@code {train job}-eval}.
     */
    static String evalJobId(ModelCard c) {
        Object named = c.eval().get("eval_job_id");
        if (named instanceof String s && SAFE_ID.matcher(s).matches()) {
            return s;
        }
        Object uri = c.eval().get("report_uri");
        if (uri instanceof String s) {
            Matcher m = REPORT_URI.matcher(s);
            if (m.find() && SAFE_ID.matcher(m.group(1)).matches()) {
                return m.group(1);
            }
        }
        return c.jobId() != null && SAFE_ID.matcher(c.jobId() + "-eval").matches() ? c.jobId() + "-eval" : null;
    }

    /** The model's evaluation report, subject by subject, tuned against base. Blocking: reads a file. */
    public EvalView evaluation(String modelId) {
        ModelCard c = card(view(), modelId);
        String job = evalJobId(c);
        String path = "evals/" + job + "/report.json";
        if (job == null || !store.exists(path)) {
            throw ApiError.notFound("No evaluation report for model '" + modelId + "'"
                    + (job == null ? "" : " (looked for " + path + ")"));
        }
        JsonNode report;
        try {
            report = ContractsJson.mapper().readTree(store.read(path));
        } catch (IOException e) {
            throw ApiError.unavailable("The evaluation report of '" + modelId + "' cannot be read");
        }
        JsonNode tuned = report.path("model");
        JsonNode base = report.path("base");
        Map<String, SubjectRow> rows = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = tuned.path("subjects").fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> s = it.next();
            rows.put(s.getKey(), subject(s.getKey(), s.getValue(), base.path("subjects").path(s.getKey())));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = base.path("subjects").fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> s = it.next();
            rows.putIfAbsent(s.getKey(), subject(s.getKey(), tuned.path("subjects").path(s.getKey()), s.getValue()));
        }
        Double tunedAcc = number(tuned.path("acc").path("value"));
        Double baseAcc = number(base.path("acc").path("value"));
        Integer n = tuned.path("acc").path("n").isNumber() ? tuned.path("acc").path("n").asInt() : null;
        SubjectRow overall = new SubjectRow("all", n, tunedAcc, baseAcc, diff(tunedAcc, baseAcc));
        return new EvalView(modelId, job, c.baseModel(), List.copyOf(rows.values()), overall,
                number(tuned.path("held_out").path("loss")), number(base.path("held_out").path("loss")),
                map(report.path("comparison")), map(report.path("gate")));
    }

    private static SubjectRow subject(String name, JsonNode tuned, JsonNode base) {
        Double t = number(tuned.path("acc"));
        Double b = number(base.path("acc"));
        JsonNode n = tuned.path("n").isNumber() ? tuned.path("n") : base.path("n");
        return new SubjectRow(name, n.isNumber() ? n.asInt() : null, t, b, diff(t, b));
    }

    // ---- datasets ---------------------------------------------------------------------------

    public List<DatasetSummary> datasets() {
        return view().datasets().stream()
                .sorted(Comparator.comparing(DatasetCard::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))
                        .thenComparing(DatasetCard::id))
                .map(Dashboard::summary).toList();
    }

    /** A dataset's card and the first {@code limit} lines of its train.jsonl. Blocking: reads a file. */
    public DatasetView dataset(String id, int limit) {
        DatasetCard d = view().dataset(id).orElseThrow(() -> ApiError.notFound("No dataset with id '" + id + "'"));
        List<Object> examples = new ArrayList<>();
        String error = null;
        String path = trainPath(d);
        if (path == null) {
            error = "train.jsonl is not in the artifact store (" + d.trainUri() + ")";
        } else {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(store.open(path), StandardCharsets.UTF_8))) {
                String line;
                while (examples.size() < limit && (line = in.readLine()) != null) {
                    if (line.isBlank()) {
                        continue;
                    }
                    try {
                        examples.add(ContractsJson.mapper().readTree(line));
                    } catch (IOException e) {
                        examples.add(line); // shown as it is: the viewer is for looking, not validating
                    }
                }
            } catch (IOException e) {
                error = "train.jsonl cannot be read (" + e.getClass().getSimpleName() + ")";
            }
        }
        return new DatasetView(summary(d), d.systemPrompt(), d.stats(), examples, error);
    }

    /**
     * The store path of a dataset's train.jsonl: its card's train_uri when that lies in this store,
     * else the store's own layout, {@code datasets/{id}/train.jsonl}; null when neither exists.
     */
    private String trainPath(DatasetCard d) {
        String root = store.uri().toString();
        String uri = d.trainUri();
        if (uri != null) {
            String normalized = uri.replaceFirst("^file:/+", "file:/");
            String normalizedRoot = root.replaceFirst("^file:/+", "file:/");
            if (normalized.startsWith(normalizedRoot)) {
                String rel = normalized.substring(normalizedRoot.length()).replaceFirst("^/+", "");
                if (!rel.contains("..") && store.exists(rel)) {
                    return rel;
                }
            }
        }
        if (SAFE_ID.matcher(d.id()).matches() && store.exists("datasets/" + d.id() + "/train.jsonl")) {
            return "datasets/" + d.id() + "/train.jsonl";
        }
        return null;
    }

    static DatasetSummary summary(DatasetCard d) {
        return new DatasetSummary(d.id(), d.task(), d.format(), d.trainExamples(), d.testExamples(), d.contentHash(),
                d.teacherModel(), d.source(), d.createdAt());
    }

    // ---- live updates -----------------------------------------------------------------------

    /** Follows statuses (and one job's events) until {@link #unsubscribe}; 503 while the view is not ready. */
    public void subscribe(Subscriber s) {
        PlatformView v = view();
        synchronized (this) {
            if (listening != v) {
                listening = v;
                v.onStatus(status -> subscribers.forEach(sub -> sub.onStatus().accept(status)));
                v.onEvent(event -> subscribers.forEach(sub -> {
                    if (event.jobId().equals(sub.jobId())) {
                        sub.onEvent().accept(event);
                    }
                }));
            }
        }
        subscribers.add(s);
    }

    public void unsubscribe(Subscriber s) {
        subscribers.remove(s);
    }

    // ---- helpers ----------------------------------------------------------------------------

    public PlatformView view() {
        return platform.view();
    }

    private static Integer integer(Object o) {
        return o instanceof Number n && Double.isFinite(n.doubleValue()) ? n.intValue() : null;
    }

    private static Double finite(Object o) {
        return o instanceof Number n && Double.isFinite(n.doubleValue()) ? n.doubleValue() : null;
    }

    private static Double number(JsonNode n) {
        return n != null && n.isNumber() && Double.isFinite(n.asDouble()) ? n.asDouble() : null;
    }

    private static Double diff(Double a, Double b) {
        return a == null || b == null ? null : a - b;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(JsonNode n) {
        return n == null || !n.isObject() ? null : ContractsJson.mapper().convertValue(n, Map.class);
    }
}
