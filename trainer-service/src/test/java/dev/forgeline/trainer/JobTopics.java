package dev.forgeline.trainer;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DeadLetter;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** What the tests send to and read back from the broker: requests in; job statuses, events and model cards out. */
final class JobTopics implements AutoCloseable {
    private final String bootstrap;
    private final KafkaProducer<String, String> producer;

    JobTopics(String bootstrap) {
        this.bootstrap = bootstrap;
        this.producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class));
    }

    void send(JobRequest request) throws Exception {
        producer.send(new ProducerRecord<>(Topics.TRAINING_REQUESTS, request.jobId(), ContractsJson.write(request)))
                .get(10, TimeUnit.SECONDS);
    }

    void cancel(String jobId, String reason) throws Exception {
        producer.send(new ProducerRecord<>(Topics.JOB_CANCELS, jobId, ContractsJson.write(JobCancel.of(jobId, reason))))
                .get(10, TimeUnit.SECONDS);
    }

    /** The first status of {@code jobId} that matches, waiting up to {@code timeout}. */
    JobStatus awaitStatus(String jobId, Predicate<JobStatus> matches, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JobStatus last = null;
        try (var consumer = fromStart(Topics.JOBS)) {
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    if (!jobId.equals(r.key()) || r.value() == null) continue;
                    last = ContractsJson.read(r.value(), JobStatus.class);
                    if (matches.test(last)) return last;
                }
            }
        }
        throw new AssertionError("no matching status of job " + jobId + " within " + timeout + "; last: " + last);
    }

    JobStatus awaitTerminal(String jobId, Duration timeout) throws Exception {
        return awaitStatus(jobId, s -> s.state().isTerminal(), timeout);
    }

    /** Every event of {@code jobId} so far, in (attempt, seq) order. */
    List<JobEvent> events(String jobId) throws Exception {
        List<JobEvent> events = new ArrayList<>();
        for (ConsumerRecord<String, String> r : readAll(Topics.JOB_EVENTS)) {
            if (jobId.equals(r.key())) events.add(ContractsJson.read(r.value(), JobEvent.class));
        }
        events.sort(Comparator.comparingInt(JobEvent::attempt).thenComparingLong(JobEvent::seq));
        return events;
    }

    /** Step to loss from the progress events; a later attempt's report of a step replaces an earlier one. */
    static TreeMap<Integer, Double> stepLosses(List<JobEvent> events) {
        return stepValues(events, "loss");
    }

    /** Step to the progress events' figure {@code key} (loss, reward_margin, ...); a later attempt's report replaces an earlier one. */
    static TreeMap<Integer, Double> stepValues(List<JobEvent> events, String key) {
        TreeMap<Integer, Double> values = new TreeMap<>();
        for (JobEvent e : events) {
            if (JobEvent.PROGRESS.equals(e.type()) && e.data().get("step") != null && e.data().get(key) != null) {
                values.put(((Number) e.data().get("step")).intValue(), ((Number) e.data().get(key)).doubleValue());
            }
        }
        return values;
    }

    /** Every record on forge.models keyed {@code modelId}. */
    List<ModelCard> modelRecords(String modelId) throws Exception {
        return records(Topics.MODELS, modelId, ModelCard.class);
    }

    Optional<ModelCard> awaitModel(String modelId, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<ModelCard> cards = modelRecords(modelId);
            if (!cards.isEmpty()) return Optional.of(cards.get(cards.size() - 1));
            Thread.sleep(200);
        }
        return Optional.empty();
    }

    /** Every record on {@code topic} keyed {@code key}, as {@code type}. */
    <T> List<T> records(String topic, String key, Class<T> type) throws Exception {
        List<T> values = new ArrayList<>();
        for (ConsumerRecord<String, String> r : readAll(topic)) {
            if (key.equals(r.key()) && r.value() != null) values.add(ContractsJson.read(r.value(), type));
        }
        return values;
    }

    /** The dead letter of the request keyed {@code key}, waiting up to {@code timeout}. */
    Optional<DeadLetter> awaitDeadLetter(String key, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<DeadLetter> letters = records(Topics.DLQ, key, DeadLetter.class);
            if (!letters.isEmpty()) return Optional.of(letters.get(0));
            Thread.sleep(200);
        }
        return Optional.empty();
    }

    /** The whole topic up to its current end. */
    private List<ConsumerRecord<String, String>> readAll(String topic) {
        List<ConsumerRecord<String, String>> all = new ArrayList<>();
        try (var consumer = fromStart(topic)) {
            Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) throw new AssertionError("cannot read " + topic + " to its end");
                consumer.poll(Duration.ofMillis(100)).forEach(all::add);
            }
        }
        return all;
    }

    private KafkaConsumer<String, String> fromStart(String topic) {
        var consumer = new KafkaConsumer<String, String>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class));
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
