package dev.forgeline.eval;

import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.generate.BatchDecoder;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.generate.Sequence;
import dev.forgeline.engine.tokenizer.ChatMessage;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Generate mode, for chat models: the harness's prompt (description, shots, question) as one
 * user turn of the model's chat template, a greedy answer of up to {@code maxNewTokens}, and
 * the choice it names read by {@link AnswerExtractor}. Answers naming no choice count as wrong.
 * Questions are decoded together in the engine's {@link BatchDecoder}.
 */
final class McqGenerator {
    private final LoadedModel model;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final int maxNewTokens;
    private final int batch;

    McqGenerator(LoadedModel model, Tokenizer tokenizer, ChatTemplate template, int maxNewTokens, int batch) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.maxNewTokens = maxNewTokens;
        this.batch = batch;
    }

    PromptFit prompt(Question q, int shots) {
        int room = model.config().maxPositionEmbeddings() - maxNewTokens;
        if (room < 1) {
            throw new IllegalArgumentException("max_new_tokens " + maxNewTokens + " leaves no room for a prompt in the window of "
                    + model.config().maxPositionEmbeddings());
        }
        // the template writes BOS itself where the model wants one
        return PromptFit.fit(k -> tokenizer.encode(template.render(List.of(ChatMessage.user(q.context(k))), true), false),
                shots, room);
    }

    List<ItemResult> answer(List<Question> questions, int shots, IntConsumer progress) {
        SamplingParams greedy = model.defaultSampling().temperature(0).maxTokens(maxNewTokens).build();
        ItemResult[] results = new ItemResult[questions.size()];
        Deque<Integer> pending = new ArrayDeque<>();
        for (int i = 0; i < questions.size(); i++) {
            pending.add(i);
        }
        Map<Sequence, Integer> running = new IdentityHashMap<>();
        Map<Integer, PromptFit> fits = new HashMap<>();
        int done = 0;
        try (BatchDecoder decoder = model.batchDecoder(batch, model.config().maxPositionEmbeddings())) {
            while (!pending.isEmpty() || !running.isEmpty()) {
                while (!pending.isEmpty() && decoder.hasRoom()) {
                    int i = pending.poll();
                    PromptFit fit = prompt(questions.get(i), shots);
                    fits.put(i, fit);
                    Sequence seq = decoder.add(fit.ids(), greedy, null, null);
                    if (seq.isFinished()) {
                        results[i] = result(questions.get(i), fit, seq);
                        done++;
                    } else {
                        running.put(seq, i);
                    }
                }
                for (Sequence seq : decoder.step()) {
                    int i = running.remove(seq);
                    results[i] = result(questions.get(i), fits.remove(i), seq);
                    done++;
                }
                progress.accept(done);
            }
        }
        return Arrays.asList(results);
    }

    private ItemResult result(Question q, PromptFit fit, Sequence seq) {
        String text = tokenizer.decode(seq.tokens(), true);
        int choice = AnswerExtractor.choice(text, q.item().choices().size()).orElse(-1);
        return new ItemResult(q.item(), choice, -1, null, null, fit.shots(), fit.truncatedTokens(), text);
    }
}
