package dev.forgeline.jobs;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads a few topics from their beginning on a thread of its own, without a consumer group (every
 * reader sees everything), and hands each record to its topic's handler. The views over Forgeline's
 * topics ({@link JobStore}, {@link PlatformView}) are built on it.
 *
 * <p>A tail lags the log a little, so a decision that must see every write acknowledged so far
 * calls {@link #sync(Duration)} first: it reads the topics' end offsets and waits until the tail
 * has passed them.
 */
final class TopicTail implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicTail.class);

    private final Map<String, RecordHandler> handlers;
    private final Map<TopicPartition, Long> positions = new ConcurrentHashMap<>();
    private final KafkaConsumer<String, String> consumer;
    private final Admin admin;
    private final List<TopicPartition> partitions = new ArrayList<>();
    private final Thread thread;
    private volatile boolean closed;
    private volatile Throwable failure;

    /** What a view does with one record; a record it cannot read is logged and skipped. */
    @FunctionalInterface
    interface RecordHandler {
        void accept(ConsumerRecord<String, String> record) throws Exception;
    }

    /** @param handlers per topic, called on the tail thread in log order per partition; keep them quick */
    TopicTail(String bootstrapServers, String clientId, Map<String, RecordHandler> handlers) {
        this.handlers = Map.copyOf(handlers);
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        consumer = new KafkaConsumer<>(props);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.CLIENT_ID_CONFIG, clientId + "-admin"));
        try {
            for (String topic : this.handlers.keySet()) {
                List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
                if (infos == null || infos.isEmpty()) throw new IllegalStateException("topic " + topic + " does not exist");
                for (PartitionInfo p : infos) partitions.add(new TopicPartition(p.topic(), p.partition()));
            }
        } catch (RuntimeException e) {
            consumer.close(Duration.ZERO);
            admin.close(Duration.ZERO);
            throw e;
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        thread = new Thread(this::tail, clientId);
        thread.setDaemon(true);
    }

    /** Starts tailing and returns once everything already on the topics has been read. */
    void start(Duration catchUp) {
        thread.start();
        try {
            sync(catchUp);
        } catch (TimeoutException e) {
            close();
            throw new IllegalStateException("did not catch up with " + handlers.keySet() + " within " + catchUp, e);
        }
    }

    /** Waits until every record on the topics at the time of the call has been read. */
    void sync(Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (TopicPartition tp : partitions) request.put(tp, OffsetSpec.latest());
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends;
        try {
            ends = admin.listOffsets(request).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TimeoutException("interrupted while reading end offsets");
        } catch (ExecutionException e) {
            throw new TimeoutException("cannot read end offsets of " + handlers.keySet() + ": " + e.getCause());
        }
        while (true) {
            if (failure != null) throw new IllegalStateException("the tail of " + handlers.keySet() + " failed", failure);
            boolean caughtUp = true;
            for (var e : ends.entrySet()) {
                if (positions.getOrDefault(e.getKey(), -1L) < e.getValue().offset()) {
                    caughtUp = false;
                    break;
                }
            }
            if (caughtUp) return;
            if (System.nanoTime() > deadline || closed) throw new TimeoutException("behind " + handlers.keySet());
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TimeoutException("interrupted while catching up");
            }
        }
    }

    boolean isAlive() {
        return thread.isAlive() && failure == null;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        consumer.wakeup();
        try {
            if (thread.isAlive()) thread.join(10_000);
            else consumer.close(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        admin.close(Duration.ofSeconds(5));
    }

    private void tail() {
        try {
            while (!closed) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        handlers.get(r.topic()).accept(r);
                    } catch (Exception e) {
                        LOG.warn("skipping unreadable record at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                                e.getMessage());
                    }
                }
                for (TopicPartition tp : partitions) positions.put(tp, consumer.position(tp));
            }
        } catch (WakeupException e) {
            if (!closed) failure = e;
        } catch (Throwable t) {
            failure = t;
            LOG.error("the tail of {} stopped", handlers.keySet(), t);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }
}
