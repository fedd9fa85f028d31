package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The latest {@link JobStatus} of every job and every requested {@link JobCancel}, kept by tailing
 * the compacted {@code forge.jobs} and {@code forge.job-cancels} topics from the beginning (no
 * consumer group: every replica reads everything).
 *
 * <p>A tail lags the log a little, so a decision that must see every write acknowledged so far
 * (is this job finished?) calls {@link #sync(Duration)} first: it reads the topics' current end
 * offsets and waits until the tail has passed them.
 */
public final class JobStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobStore.class);
    private static final List<String> TOPICS = List.of(Topics.JOBS, Topics.JOB_CANCELS);

    private final Map<String, JobStatus> statuses = new ConcurrentHashMap<>();
    private final Map<String, JobCancel> cancels = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> positions = new ConcurrentHashMap<>();
    private final List<Consumer<JobStatus>> statusListeners = new CopyOnWriteArrayList<>();
    private final List<Consumer<JobCancel>> cancelListeners = new CopyOnWriteArrayList<>();
    private final KafkaConsumer<String, String> consumer;
    private final Admin admin;
    private final List<TopicPartition> partitions = new ArrayList<>();
    private final Thread thread;
    private volatile boolean closed;
    private volatile Throwable failure;

    private JobStore(String bootstrapServers, String clientId) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId + "-jobstore");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        consumer = new KafkaConsumer<>(props);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.CLIENT_ID_CONFIG, clientId + "-jobstore-admin"));
        for (String topic : TOPICS) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) throw new IllegalStateException("topic " + topic + " does not exist");
            for (PartitionInfo p : infos) partitions.add(new TopicPartition(p.topic(), p.partition()));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        thread = new Thread(this::tail, clientId + "-jobstore");
        thread.setDaemon(true);
    }

    /** Starts tailing and returns once everything already on the topics has been read. */
    public static JobStore start(String bootstrapServers, String clientId) {
        JobStore store = new JobStore(bootstrapServers, clientId);
        store.thread.start();
        try {
            store.sync(Duration.ofSeconds(60));
        } catch (TimeoutException e) {
            store.close();
            throw new IllegalStateException("job store did not catch up with " + TOPICS + " within 60 s", e);
        }
        return store;
    }

    public Optional<JobStatus> get(String jobId) {
        return Optional.ofNullable(statuses.get(jobId));
    }

    public Collection<JobStatus> all() {
        return List.copyOf(statuses.values());
    }

    public boolean isCancelRequested(String jobId) {
        return cancels.containsKey(jobId);
    }

    public Optional<JobCancel> cancelRequest(String jobId) {
        return Optional.ofNullable(cancels.get(jobId));
    }

    /** Called on the tail thread for every status read, in log order per job. Keep it quick. */
    public void onStatus(Consumer<JobStatus> listener) {
        statusListeners.add(listener);
    }

    public void onCancel(Consumer<JobCancel> listener) {
        cancelListeners.add(listener);
    }

    /** Waits until every record on the topics at the time of the call has been read. */
    public void sync(Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (TopicPartition tp : partitions) request.put(tp, OffsetSpec.latest());
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends;
        try {
            ends = admin.listOffsets(request).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TimeoutException("interrupted while reading end offsets");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new TimeoutException("cannot read end offsets of " + TOPICS + ": " + e.getCause());
        }
        while (true) {
            if (failure != null) throw new IllegalStateException("job store tail failed", failure);
            boolean caughtUp = true;
            for (var e : ends.entrySet()) {
                if (positions.getOrDefault(e.getKey(), -1L) < e.getValue().offset()) {
                    caughtUp = false;
                    break;
                }
            }
            if (caughtUp) return;
            if (System.nanoTime() > deadline || closed) throw new TimeoutException("job store is behind " + TOPICS);
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TimeoutException("interrupted while catching up");
            }
        }
    }

    public boolean isAlive() {
        return thread.isAlive() && failure == null;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        admin.close(Duration.ofSeconds(5));
    }

    private void tail() {
        try {
            while (!closed) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(Topics.JOBS)) applyStatus(r);
                    else applyCancel(r);
                }
                for (TopicPartition tp : partitions) positions.put(tp, consumer.position(tp));
            }
        } catch (WakeupException e) {
            if (!closed) failure = e;
        } catch (Throwable t) {
            failure = t;
            LOG.error("job store tail stopped", t);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void applyStatus(ConsumerRecord<String, String> r) {
        if (r.key() == null) return;
        if (r.value() == null) {
            statuses.remove(r.key());
            return;
        }
        try {
            JobStatus status = ContractsJson.read(r.value(), JobStatus.class);
            statuses.put(r.key(), status);
            for (Consumer<JobStatus> l : statusListeners) l.accept(status);
        } catch (Exception e) {
            LOG.warn("skipping unreadable job status at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    private void applyCancel(ConsumerRecord<String, String> r) {
        if (r.key() == null) return;
        if (r.value() == null) {
            cancels.remove(r.key());
            return;
        }
        try {
            JobCancel cancel = ContractsJson.read(r.value(), JobCancel.class);
            String jobId = cancel.jobId() != null ? cancel.jobId() : r.key();
            cancels.put(jobId, cancel);
            for (Consumer<JobCancel> l : cancelListeners) l.accept(cancel);
        } catch (Exception e) {
            LOG.warn("skipping unreadable job cancel at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }
}
