package dev.forgeline.datagen;

import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.datagen.cleaning.DatasetFiles;
import dev.forgeline.datagen.cleaning.ExampleCheck;
import dev.forgeline.datagen.generation.ExampleGeneration;
import dev.forgeline.datagen.generation.GenerationStats;
import dev.forgeline.datagen.teacher.OpenAiTeacher;
import dev.forgeline.datagen.teacher.RetryingTeacher;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import dev.forgeline.datagen.teacher.TeacherEndpoint;
import dev.forgeline.jobs.ArtifactStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bench/run datagen}: examples a second from a local scripted teacher that answers each call
 * after 200 ms, at 1, 8 and 32 calls in flight, generation, checks, de-duplication and the dataset
 * files included. The baseline is the teacher-bound rate of the same run's settings: calls in
 * flight / 0.2 s. The last line is one JSON object.
 */
public final class DatagenBenchmark {
    private static final Duration LATENCY = Duration.ofMillis(200);

    public static void main(String[] args) throws Exception {
        int examples = Integer.getInteger("bench.examples", 1000);
        int[] concurrency = {1, 8, 32};
        double[] rate = new double[concurrency.length];
        AtomicInteger family = new AtomicInteger();
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(request -> ScriptedAnswers.route(request,
                r -> Reply.delay(LATENCY, Reply.ok(ScriptedAnswers.example(family.getAndIncrement(), -1)))))) {
            for (int i = 0; i < concurrency.length; i++) {
                Path dir = Files.createTempDirectory("forge-bench-datagen-");
                ArtifactStore store = ArtifactStore.fromUri(dir.toString());
                DatagenRequest request = DatagenRequest.builder("bench-" + concurrency[i])
                        .task("Answer questions about an invented world.").numExamples(examples)
                        .maxConcurrency(concurrency[i]).systemPrompt(ScriptedAnswers.SYSTEM_PROMPT).build();
                long t0 = System.nanoTime();
                ExampleGeneration.Result result = new ExampleGeneration(
                        new RetryingTeacher(new OpenAiTeacher(new TeacherEndpoint(teacher.baseUrl(), "scripted", null,
                                Duration.ofSeconds(30))), 6, 1),
                        request, ExampleCheck.defaults(), store, () -> false, new ExampleGeneration.Listener() {
                            @Override
                            public void progress(GenerationStats stats) {}

                            @Override
                            public void saved(String marker) {}
                        }).run(false);
                DatasetFiles.write(store, request.datasetId(), result.kept(), result.systemPrompt(), 0.1, 42);
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (result.kept().size() != examples) {
                    throw new IllegalStateException(result.kept().size() + " examples kept of " + examples);
                }
                rate[i] = examples / seconds;
                double bound = concurrency[i] / (LATENCY.toNanos() / 1e9);
                System.out.printf(Locale.ROOT, "concurrency %2d: %d examples in %.1f s, %.1f examples/s (teacher-bound %.1f, ratio %.2f)%n",
                        concurrency[i], examples, seconds, rate[i], bound, rate[i] / bound);
            }
        }
        double bound32 = 32 / (LATENCY.toNanos() / 1e9);
        double ratio = rate[2] / bound32;
        System.out.printf(Locale.ROOT, "{\"benchmark\":\"datagen\",\"examples\":%d,\"teacher_latency_ms\":%d,"
                        + "\"examples_per_s\":{\"c1\":%.2f,\"c8\":%.2f,\"c32\":%.2f},\"teacher_bound_c32\":%.1f,"
                        + "\"ratio_c32_to_bound\":%.3f,\"goal\":{\"ratio_c32_to_bound\":0.8},\"goal_met\":%s}%n",
                examples, LATENCY.toMillis(), rate[0], rate[1], rate[2], bound32, ratio, ratio >= 0.8);
    }
}
