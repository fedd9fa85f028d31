package dev.forgeline.jobs;

import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.Topics;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A request goes through three workers over the real broker; every span on the way is in one trace. */
class TracingTest {
    @Test
    void threeHopsShareOneTrace() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String t1 = "test.trace-1", t2 = "test.trace-2", t3 = "test.trace-3";
        for (String t : List.of(t1, t2, t3)) TestKafka.createTopic(t, 1);
        InMemorySpanExporter exporter = InMemorySpanExporter.create();
        OpenTelemetrySdk otel = OpenTelemetrySdk.builder()
                .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();

        // a -> t2 -> b -> t3 -> c
        JobHandler<TestRequest> a = JobHandler.of("hop", t1, TestRequest.class, ctx -> {
            ctx.publish(t2, ctx.jobId() + "-2", TestRequest.of(ctx.jobId() + "-2", 1)).get();
            return JobResult.empty();
        });
        JobHandler<TestRequest> b = JobHandler.of("hop", t2, TestRequest.class, ctx -> {
            // a span of the handler's own is the parent of what it publishes
            Span step = otel.getTracer("test").spanBuilder("b-work").startSpan();
            try (Scope ignored = step.makeCurrent()) {
                // keyed by its own job id; only the trailing "-2" changes (the run id may contain "-2" too)
                String next = ctx.jobId().replaceFirst("-2$", "-3");
                ctx.publish(t3, next, TestRequest.of(next, 1)).get();
            } finally {
                step.end();
            }
            return JobResult.empty();
        });
        JobHandler<TestRequest> c = JobHandler.of("hop", t3, TestRequest.class, ctx -> JobResult.empty());

        String job = "trace-" + run;
        String trace;
        try (JobStore watch = JobStore.start(TestKafka.bootstrap(), "trace-watch-" + run);
             JobWorker wa = new JobWorker(TestKafka.workerConfig("trace-a-" + run, "trace-a-" + run).withOpenTelemetry(otel), a).start();
             JobWorker wb = new JobWorker(TestKafka.workerConfig("trace-b-" + run, "trace-b-" + run).withOpenTelemetry(otel), b).start();
             JobWorker wc = new JobWorker(TestKafka.workerConfig("trace-c-" + run, "trace-c-" + run).withOpenTelemetry(otel), c).start();
             TracedProducer producer = TracedProducer.create(TestKafka.bootstrap(), "trace-client-" + run, otel)) {
            Span root = otel.getTracer("test").spanBuilder("client submits").startSpan();
            try (Scope ignored = root.makeCurrent()) {
                producer.send(t1, job, TestRequest.of(job, 1)).get();
            } finally {
                root.end();
            }
            trace = root.getSpanContext().getTraceId();
            TestKafka.awaitState(watch, job + "-3", JobState.SUCCEEDED, Duration.ofSeconds(30));
            TestKafka.await("all three jobs SUCCEEDED", Duration.ofSeconds(10), () ->
                    List.of(job, job + "-2", job + "-3").stream().allMatch(
                            id -> watch.get(id).map(s -> s.state() == JobState.SUCCEEDED).orElse(false)));
            TestKafka.await("consumer spans ended", Duration.ofSeconds(10), () -> exporter.getFinishedSpanItems().stream()
                    .filter(s -> s.getKind() == SpanKind.CONSUMER).count() == 3);
        }

        List<SpanData> spans = exporter.getFinishedSpanItems();
        Set<String> traces = spans.stream().map(SpanData::getTraceId).collect(Collectors.toSet());
        assertEquals(Set.of(trace), traces, "every span shares the client's trace: " + spans);
        assertEquals(3, spans.stream().filter(s -> s.getKind() == SpanKind.CONSUMER).count());
        assertEquals(3, spans.stream().filter(s -> s.getKind() == SpanKind.PRODUCER).count(), "client, a and b publish");
        Set<String> ids = spans.stream().map(SpanData::getSpanId).collect(Collectors.toSet());
        for (SpanData s : spans) {
            if (!s.getName().equals("client submits")) {
                assertTrue(ids.contains(s.getParentSpanId()), s.getName() + " has a parent in the trace");
            }
        }
        SpanData cProcess = spans.stream().filter(s -> s.getName().equals(t3 + " process")).findFirst().orElseThrow();
        SpanData bPublish = spans.stream().filter(s -> s.getName().equals(t3 + " publish")).findFirst().orElseThrow();
        assertEquals(bPublish.getSpanId(), cProcess.getParentSpanId(), "c's job is a child of b's publish");
        SpanData bWork = spans.stream().filter(s -> s.getName().equals("b-work")).findFirst().orElseThrow();
        assertEquals(bWork.getSpanId(), bPublish.getParentSpanId(), "b publishes inside its handler's span");

        // What the workers write about the job carries the trace too.
        List<ConsumerRecord<String, String>> statuses = TestKafka.readAll(Topics.JOBS, r -> (job + "-3").equals(r.key()));
        assertTrue(!statuses.isEmpty());
        for (ConsumerRecord<String, String> r : statuses) {
            String traceparent = new String(r.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8);
            assertTrue(traceparent.contains(trace), traceparent);
        }
        otel.close();
    }
}
