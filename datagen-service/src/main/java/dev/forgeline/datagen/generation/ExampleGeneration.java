package dev.forgeline.datagen.generation;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.datagen.cleaning.Deduplicator;
import dev.forgeline.datagen.cleaning.ExampleCheck;
import dev.forgeline.datagen.cleaning.Rejection;
import dev.forgeline.datagen.teacher.Teacher;
import dev.forgeline.datagen.teacher.TeacherException;
import dev.forgeline.datagen.teacher.TeacherReply;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Writes a dataset's examples with a teacher: the system prompt (unless given), sub-topics that the
 * example calls cycle through so that examples do not collapse onto one theme, then examples,
 * {@code maxConcurrency} calls in flight, each shown a few earlier examples and asked for something
 * new and a little harder. Every answer is parsed, checked and de-duplicated as it arrives, on this
 * thread, so the counts are exact; kept examples are saved to the {@link GenerationLedger} every few
 * seconds, and a restarted job goes on from the last save to the target count.
 *
 * <p>It never has more calls in flight than examples still missing, so it stops at the target
 * without surplus. It stops early at the token budget (keeping what it made), on cancel, and fails
 * when the teacher refuses the request, keeps failing, or answers nothing usable.
 */
public final class ExampleGeneration {

    /** What the caller hears: counts after each answer, and each save (a checkpoint marker). */
    public interface Listener {
        void progress(GenerationStats stats);

        void saved(String marker);
    }

    public record Result(String systemPrompt, List<Conversation> kept, GenerationStats stats) {}

    private static final long SAVE_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final int SAVE_EVERY_EXAMPLES = 25;

    private final Teacher teacher;
    private final DatagenRequest request;
    private final ExampleCheck check;
    private final GenerationLedger ledger;
    private final BooleanSupplier cancelled;
    private final Listener listener;

    public ExampleGeneration(Teacher teacher, DatagenRequest request, ExampleCheck check,
            dev.forgeline.jobs.ArtifactStore store, BooleanSupplier cancelled, Listener listener) {
        this.teacher = teacher;
        this.request = request;
        this.check = check;
        this.ledger = new GenerationLedger(store, request.jobId());
        this.cancelled = cancelled;
        this.listener = listener;
    }

    /** What a call brought back: an example to judge, or why there is none. */
    private record Answer(Optional<Conversation> example, TeacherException failure) {}

    /**
     * @param resume go on from the ledger's last save (a restarted job); otherwise start afresh
     */
    public Result run(boolean resume) throws IOException, InterruptedException {
        Optional<GenerationLedger.Saved> saved = resume ? ledger.load() : Optional.empty();
        if (saved.isEmpty()) {
            ledger.clear();
        }
        GenerationStats stats = saved.map(GenerationLedger.Saved::stats).orElseGet(GenerationStats::new);
        Deduplicator dedup = new Deduplicator(request.nearDuplicateThreshold(), request.seed());
        List<Conversation> kept = new ArrayList<>();
        for (Conversation c : saved.map(GenerationLedger.Saved::kept).orElse(List.of())) {
            dedup.offer(c);
            kept.add(c);
        }
        String systemPrompt = saved.map(GenerationLedger.Saved::systemPrompt).orElse(null);
        if (systemPrompt == null) {
            systemPrompt = request.systemPrompt() != null ? request.systemPrompt().strip() : writeSystemPrompt(stats);
        }
        List<String> topics = saved.map(GenerationLedger.Saved::topics).orElse(null);
        if (topics == null) {
            topics = writeTopics(stats);
        }
        int parts = saved.map(GenerationLedger.Saved::parts).orElse(0);
        if (saved.isEmpty()) {
            listener.saved(ledger.save(systemPrompt, topics, List.of(), parts, stats)); // the plan, before any example
        }
        String instructions = TeacherPrompts.instructions(request.task(), systemPrompt);
        int target = request.numExamples();
        int concurrency = request.maxConcurrency();
        Random random = new Random(request.seed() + kept.size()); // a resumed run does not replay the same picks
        List<String> order = new ArrayList<>(topics);
        Collections.shuffle(order, random);

        ExecutorService calls = Executors.newFixedThreadPool(concurrency, r -> {
            Thread t = new Thread(r, "teacher-call");
            t.setDaemon(true);
            return t;
        });
        CompletionService<Answer> answers = new ExecutorCompletionService<>(calls);
        List<Conversation> unsaved = new ArrayList<>();
        long lastSave = System.nanoTime();
        int inFlight = 0;
        int sinceKept = 0;
        int failuresInARow = 0;
        long callIndex = stats.callCount();
        String fatal = null;
        try {
            while (true) {
                boolean stop = fatal != null || cancelled.getAsBoolean() || kept.size() >= target || budgetSpent(stats);
                while (!stop && inFlight < Math.min(concurrency, target - kept.size())) {
                    String topic = order.get((int) (callIndex % order.size()));
                    List<Conversation> earlier = earlier(kept, random);
                    long seed = request.seed() + callIndex++;
                    String sp = systemPrompt;
                    stats.asked();
                    answers.submit(() -> ask(sp, topic, earlier, seed, stats));
                    inFlight++;
                }
                if (inFlight == 0) {
                    break;
                }
                Future<Answer> done = answers.poll(200, TimeUnit.MILLISECONDS);
                if (done != null) {
                    inFlight--;
                    Answer a = join(done);
                    if (a.failure() != null) {
                        stats.failedCall();
                        failuresInARow++;
                        if (!a.failure().retryable()) {
                            fatal = "the teacher refused the request: " + a.failure().getMessage();
                        } else if (failuresInARow >= Math.max(5, 2 * concurrency)) {
                            fatal = failuresInARow + " teacher calls in a row failed; the last: " + a.failure().getMessage();
                        }
                    } else {
                        failuresInARow = 0;
                        if (judge(a.example(), instructions, dedup, stats)) {
                            kept.add(a.example().get());
                            unsaved.add(a.example().get());
                            sinceKept = 0;
                        } else if (++sinceKept >= Math.max(100, 10 * concurrency)) {
                            fatal = "the teacher answered nothing usable in its last " + sinceKept + " answers: " + stats.toMap();
                        }
                    }
                    listener.progress(stats);
                }
                if (!unsaved.isEmpty() && (unsaved.size() >= SAVE_EVERY_EXAMPLES || System.nanoTime() - lastSave > SAVE_EVERY_NANOS)) {
                    listener.saved(ledger.save(systemPrompt, topics, unsaved, ++parts, stats));
                    unsaved.clear();
                    lastSave = System.nanoTime();
                }
            }
        } finally {
            calls.shutdownNow();
        }
        if (!unsaved.isEmpty()) {
            listener.saved(ledger.save(systemPrompt, topics, unsaved, ++parts, stats));
        }
        if (fatal != null) {
            throw new IllegalStateException(fatal);
        }
        if (cancelled.getAsBoolean()) {
            throw new CancellationException("cancelled with " + kept.size() + " of " + target + " examples made");
        }
        if (kept.size() < target && budgetSpent(stats)) {
            stats.budgetReached();
        }
        return new Result(systemPrompt, kept, stats);
    }

    /**
     * One example: one JSON call, or a question and its answer as plain text. Runs on a call thread.
     * A teacher whose context cannot hold the earlier examples is asked again without them.
     */
    private Answer ask(String systemPrompt, String topic, List<Conversation> earlier, long seed, GenerationStats stats) {
        Answer a = askOnce(systemPrompt, topic, earlier, seed, stats);
        if (a.failure() != null && a.failure().status() == 400 && !earlier.isEmpty()
                && a.failure().getMessage().contains("maximum context length")) { // OpenAI's and vLLM's wording
            stats.failedCall();
            return askOnce(systemPrompt, topic, List.of(), seed, stats);
        }
        return a;
    }

    private Answer askOnce(String systemPrompt, String topic, List<Conversation> earlier, long seed, GenerationStats stats) {
        try {
            if (request.exampleFormat() == DatagenRequest.ExampleFormat.PLAIN) {
                String question = call(TeacherPrompts.question(request.task(), topic, earlier), seed, false, stats).strip();
                if (question.isEmpty()) {
                    return new Answer(Optional.empty(), null);
                }
                String answer = call(TeacherPrompts.answer(systemPrompt, question), seed, false, stats).strip();
                return new Answer(Optional.of(new Conversation(List.of(ChatTurn.user(question), ChatTurn.assistant(answer)))), null);
            }
            String text = call(TeacherPrompts.example(request.task(), systemPrompt, topic, earlier), seed, true, stats);
            return new Answer(ExampleParser.example(text), null);
        } catch (TeacherException e) {
            return new Answer(Optional.empty(), e);
        }
    }

    private String call(List<ChatTurn> messages, Long seed, boolean json, GenerationStats stats) {
        stats.call();
        TeacherReply reply = teacher.chat(messages, request.temperature(), request.maxTokensPerCall(), seed, json);
        stats.tokens(reply.promptTokens(), reply.completionTokens());
        return reply.text() == null ? "" : reply.text();
    }

    /** Counts the answer at its stage; true when it is kept. */
    private boolean judge(Optional<Conversation> example, String instructions, Deduplicator dedup, GenerationStats stats) {
        if (example.isEmpty()) {
            stats.unparseable();
            return false;
        }
        Optional<Rejection> rejection = check.check(example.get(), instructions);
        if (rejection.isPresent()) {
            stats.rejected(rejection.get());
            return false;
        }
        Deduplicator.Verdict verdict = dedup.offer(example.get());
        if (verdict != Deduplicator.Verdict.NEW) {
            stats.duplicate(verdict);
            return false;
        }
        stats.kept();
        return true;
    }

    private String writeSystemPrompt(GenerationStats stats) {
        String text = call(TeacherPrompts.systemPrompt(request.task()), request.seed(), false, stats).strip();
        text = text.replaceAll("^[\"'`]+|[\"'`]+$", "").strip();
        if (text.isEmpty()) {
            throw new IllegalStateException("the teacher wrote an empty system prompt");
        }
        return text;
    }

    private List<String> writeTopics(GenerationStats stats) {
        int count = Math.max(5, Math.min(50, request.numExamples() / 5));
        List<String> topics = ExampleParser.topics(call(TeacherPrompts.topics(request.task(), count), request.seed(), true, stats));
        // Without topics the examples still vary through the earlier ones they are shown.
        return topics.isEmpty() ? List.of(request.task()) : List.copyOf(topics.subList(0, Math.min(count, topics.size())));
    }

    /** A few examples to build on: the seed examples until three are kept, then kept ones at random. */
    private List<Conversation> earlier(List<Conversation> kept, Random random) {
        if (kept.size() < 3) {
            List<Conversation> shown = new ArrayList<>(request.seedExamples().subList(0, Math.min(3, request.seedExamples().size())));
            shown.addAll(kept);
            return shown.subList(0, Math.min(3, shown.size()));
        }
        List<Conversation> shown = new ArrayList<>(3);
        for (int i = 0; i < 3; i++) {
            shown.add(kept.get(random.nextInt(kept.size())));
        }
        return shown;
    }

    private boolean budgetSpent(GenerationStats stats) {
        return request.budgetTokens() != null && stats.tokensUsed() >= request.budgetTokens();
    }

    private static Answer join(Future<Answer> done) throws InterruptedException {
        try {
            return done.get();
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(cause);
        }
    }
}
