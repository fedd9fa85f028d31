package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * What the platform's topics say now, for the front door (the gateway's fine-tuning API and
 * dashboard, the {@code forge} CLI): the latest status of every job ({@code forge.jobs}), each
 * job's progress events ({@code forge.job-events}, the newest {@link #EVENTS_PER_JOB} per job), and
 * the dataset and model registries ({@code forge.datasets}, {@code forge.models}). Read from the
 * beginning without a consumer group, so every replica holding one answers the same.
 */
public final class PlatformView implements AutoCloseable {
    /** Events kept per job: a training run's every progress event, a bounded memory per job. */
    public static final int EVENTS_PER_JOB = 5000;

    private final LatestStatuses jobs = new LatestStatuses();
    private final Map<String, Deque<JobEvent>> events = new ConcurrentHashMap<>();
    private final Map<String, DatasetCard> datasets = new ConcurrentHashMap<>();
    private final Map<String, ModelCard> models = new ConcurrentHashMap<>();
    private final List<Consumer<JobEvent>> eventListeners = new CopyOnWriteArrayList<>();
    private final TopicTail tail;

    private PlatformView(String bootstrapServers, String clientId) {
        tail = new TopicTail(bootstrapServers, clientId + "-view", Map.of(
                Topics.JOBS, jobs::apply,
                Topics.JOB_EVENTS, this::applyEvent,
                Topics.DATASETS, r -> applyCard(r, datasets, DatasetCard.class),
                Topics.MODELS, r -> applyCard(r, models, ModelCard.class)));
    }

    /** Starts tailing and returns once everything already on the topics has been read. */
    public static PlatformView start(String bootstrapServers, String clientId) {
        PlatformView view = new PlatformView(bootstrapServers, clientId);
        view.tail.start(Duration.ofSeconds(60));
        return view;
    }

    public Optional<JobStatus> job(String jobId) {
        return jobs.get(jobId);
    }

    /** Every job, the newest first. */
    public List<JobStatus> jobs() {
        return jobs.all().stream()
                .sorted(Comparator.comparing(JobStatus::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))
                        .thenComparing(JobStatus::jobId))
                .toList();
    }

    /** A job's events in the order they happened (attempt, then sequence). */
    public List<JobEvent> events(String jobId) {
        Deque<JobEvent> list = events.get(jobId);
        if (list == null) return List.of();
        synchronized (list) {
            return list.stream().sorted(Comparator.comparingInt(JobEvent::attempt).thenComparingLong(JobEvent::seq)).toList();
        }
    }

    public Optional<DatasetCard> dataset(String id) {
        return Optional.ofNullable(datasets.get(id));
    }

    public Collection<DatasetCard> datasets() {
        return List.copyOf(datasets.values());
    }

    public Optional<ModelCard> model(String id) {
        return Optional.ofNullable(models.get(id));
    }

    public Collection<ModelCard> models() {
        return List.copyOf(models.values());
    }

    /** Called on the tail thread for every status read. Keep it quick. */
    public void onStatus(Consumer<JobStatus> listener) {
        jobs.onStatus(listener);
    }

    /** Called on the tail thread for every event read. Keep it quick. */
    public void onEvent(Consumer<JobEvent> listener) {
        eventListeners.add(listener);
    }

    /** Waits until every record on the topics at the time of the call has been read. */
    public void sync(Duration timeout) throws TimeoutException {
        tail.sync(timeout);
    }

    public boolean isAlive() {
        return tail.isAlive();
    }

    @Override
    public void close() {
        tail.close();
    }

    private void applyEvent(ConsumerRecord<String, String> r) throws Exception {
        if (r.value() == null) return;
        JobEvent event = ContractsJson.read(r.value(), JobEvent.class);
        if (event.jobId() == null) return;
        Deque<JobEvent> list = events.computeIfAbsent(event.jobId(), k -> new ArrayDeque<>());
        synchronized (list) {
            list.addLast(event);
            if (list.size() > EVENTS_PER_JOB) list.removeFirst();
        }
        for (Consumer<JobEvent> l : eventListeners) l.accept(event);
    }

    private static <T> void applyCard(ConsumerRecord<String, String> r, Map<String, T> cards, Class<T> type) throws Exception {
        if (r.key() == null) return;
        if (r.value() == null) cards.remove(r.key());
        else cards.put(r.key(), ContractsJson.read(r.value(), type));
    }
}
