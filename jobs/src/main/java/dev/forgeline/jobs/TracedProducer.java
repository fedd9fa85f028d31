package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.StringSerializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Sends Forgeline messages as JSON with W3C trace context ({@code traceparent}) in the record
 * headers, inside a PRODUCER span, so that a trace follows a job from service to service.
 */
public final class TracedProducer implements AutoCloseable {
    static final AttributeKey<String> MESSAGING_SYSTEM = AttributeKey.stringKey("messaging.system");
    static final AttributeKey<String> DESTINATION = AttributeKey.stringKey("messaging.destination.name");
    static final AttributeKey<String> OPERATION = AttributeKey.stringKey("messaging.operation.type");
    static final AttributeKey<String> MESSAGE_KEY = AttributeKey.stringKey("messaging.kafka.message.key");

    private static final TextMapSetter<Headers> SETTER = (headers, key, value) -> {
        headers.remove(key);
        headers.add(key, value.getBytes(StandardCharsets.UTF_8));
    };

    private static final TextMapGetter<Headers> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Headers headers) {
            List<String> keys = new ArrayList<>();
            for (Header h : headers) keys.add(h.key());
            return keys;
        }

        @Override
        public String get(Headers headers, String key) {
            if (headers == null) return null;
            Header h = headers.lastHeader(key);
            return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
        }
    };

    private final Producer<String, String> producer;
    private final OpenTelemetry openTelemetry;
    private final boolean ownsProducer;

    /** Wraps a producer the caller owns and closes. */
    public TracedProducer(Producer<String, String> producer, OpenTelemetry openTelemetry) {
        this(producer, openTelemetry, false);
    }

    private TracedProducer(Producer<String, String> producer, OpenTelemetry openTelemetry, boolean owns) {
        this.producer = producer;
        this.openTelemetry = openTelemetry;
        this.ownsProducer = owns;
    }

    /** A producer of its own (acks=all, idempotent), closed with this. */
    public static TracedProducer create(String bootstrapServers, String clientId, OpenTelemetry openTelemetry) {
        return new TracedProducer(new KafkaProducer<>(producerConfig(bootstrapServers, clientId, Map.of())), openTelemetry, true);
    }

    static Map<String, Object> producerConfig(String bootstrapServers, String clientId, Map<String, Object> overrides) {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.putAll(overrides);
        return p;
    }

    /** Sends {@code value} (a record, or a String taken as JSON already) in a span under the current context. */
    public CompletableFuture<RecordMetadata> send(String topic, String key, Object value) {
        return send(topic, key, value, Context.current());
    }

    public CompletableFuture<RecordMetadata> send(String topic, String key, Object value, Context parent) {
        Span span = openTelemetry.getTracer("dev.forgeline.jobs").spanBuilder(topic + " publish")
                .setParent(parent)
                .setSpanKind(SpanKind.PRODUCER)
                .setAttribute(MESSAGING_SYSTEM, "kafka")
                .setAttribute(DESTINATION, topic)
                .setAttribute(OPERATION, "publish")
                .setAttribute(MESSAGE_KEY, key == null ? "" : key)
                .startSpan();
        CompletableFuture<RecordMetadata> result = new CompletableFuture<>();
        try {
            String json = value == null || value instanceof String ? (String) value : ContractsJson.write(value);
            ProducerRecord<String, String> record = new ProducerRecord<>(topic, key, json);
            inject(openTelemetry, parent.with(span), record.headers());
            producer.send(record, (metadata, error) -> {
                if (error != null) {
                    span.recordException(error);
                    span.setStatus(StatusCode.ERROR, error.getMessage());
                    result.completeExceptionally(error);
                } else {
                    result.complete(metadata);
                }
                span.end();
            });
        } catch (RuntimeException e) {
            span.recordException(e);
            span.setStatus(StatusCode.ERROR, String.valueOf(e.getMessage()));
            span.end();
            result.completeExceptionally(e);
        }
        return result;
    }

    public Producer<String, String> producer() {
        return producer;
    }

    /** Writes {@code context}'s trace into {@code headers} ({@code traceparent}, {@code tracestate}). */
    public static void inject(OpenTelemetry openTelemetry, Context context, Headers headers) {
        openTelemetry.getPropagators().getTextMapPropagator().inject(context, headers, SETTER);
    }

    /** The trace context carried by {@code headers}, as a parent for the consumer's span. */
    public static Context extract(OpenTelemetry openTelemetry, Headers headers) {
        return openTelemetry.getPropagators().getTextMapPropagator().extract(Context.root(), headers, GETTER);
    }

    @Override
    public void close() {
        if (ownsProducer) producer.close(Duration.ofSeconds(10));
    }
}
