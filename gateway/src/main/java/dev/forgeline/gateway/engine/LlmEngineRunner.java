package dev.forgeline.gateway.engine;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.GenerationConfig;
import dev.forgeline.engine.generate.BatchDecoder;
import dev.forgeline.engine.generate.PromptLogprobs;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.generate.Sequence;
import dev.forgeline.engine.generate.TokenLogprobs;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.WeightLayout;
import dev.forgeline.engine.tokenizer.ChatMessage;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** {@link ModelRunner} over llm-engine: CausalLm, Tokenizer, ChatTemplate and BatchDecoder. */
public final class LlmEngineRunner implements ModelRunner {

    private final CausalLm model;
    private final Tokenizer tokenizer;
    private final ChatTemplate template; // null for a base model without one
    private final GenerationConfig generation;
    private final int contextLength;
    private final long weightBytes;

    private LlmEngineRunner(CausalLm model, Tokenizer tokenizer, ChatTemplate template, GenerationConfig generation,
            int contextLength, long weightBytes) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.generation = generation;
        this.contextLength = contextLength;
        this.weightBytes = weightBytes;
    }

    /**
     * Loads a Hugging Face model folder.
     *
     * @param maxContext caps the context (and so each sequence's KV cache rows); 0 for the model's own
     */
    public static LlmEngineRunner load(Path dir, Device device, DataType dtype, int maxContext, WeightLayout layout) {
        CausalLm model = CausalLm.load(dir, device, dtype, layout);
        try {
            Tokenizer tokenizer = Tokenizer.load(dir);
            ChatTemplate template;
            try {
                template = ChatTemplate.fromModelDir(dir);
            } catch (RuntimeException noTemplate) {
                template = null;
            }
            BatchDecoder.warmUp(model);
            // The heap grew while the packed weights were allocated; a full collection gives what
            // is free beyond -XX:MaxHeapFreeRatio back to the OS before the model serves.
            System.gc();
            int window = model.config().maxPositionEmbeddings();
            int context = maxContext > 0 ? Math.min(window, maxContext) : window;
            return new LlmEngineRunner(model, tokenizer, template, GenerationConfig.read(dir, model.config()),
                    context, CausalLm.weightBytesPerToken(model.config(), dtype));
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Size on disk of a folder's safetensors, an estimate of its weights before loading. */
    public static long weightFileBytes(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".safetensors")).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public int contextLength() {
        return contextLength;
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        return tokenizer.encode(text, addSpecialTokens);
    }

    @Override
    public String decode(int[] ids) {
        return tokenizer.decode(ids, true);
    }

    @Override
    public String tokenText(int id) {
        return tokenizer.decode(new int[] {id}, false);
    }

    @Override
    public int[] chatPrompt(List<Turn> messages) {
        if (template == null) {
            throw new UnsupportedOperationException("the model has no chat template; use /v1/completions");
        }
        List<ChatMessage> turns = messages.stream().map(m -> new ChatMessage(m.role(), m.content())).toList();
        // The rendered text already holds the template's special tokens (BOS).
        return tokenizer.encode(template.render(turns, true), false);
    }

    SamplingParams samplingParams(Params p) {
        // vLLM's rule: a request field wins, then generation_config.json's, then OpenAI's default.
        SamplingParams.Builder b = SamplingParams.builder(generation);
        b.temperature(p.temperature() != null ? p.temperature()
                : generation.temperature() != null ? generation.temperature() : 1.0);
        b.topP(p.topP() != null ? p.topP() : generation.topP() != null ? generation.topP() : 1.0);
        b.topK(generation.topK() != null ? generation.topK() : 0);
        b.seed(p.seed());
        if (p.presencePenalty() != null) b.presencePenalty(p.presencePenalty());
        if (p.frequencyPenalty() != null) b.frequencyPenalty(p.frequencyPenalty());
        b.stopStrings(p.stop() == null ? List.of() : p.stop());
        if (p.maxTokens() != null) b.maxTokens(p.maxTokens());
        b.logprobs(p.logprobs());
        return b.build();
    }

    @Override
    public DecodeBatch newBatch(int capacity) {
        return new Batch(new BatchDecoder(model, capacity, contextLength));
    }

    private final class Batch implements DecodeBatch {
        private final BatchDecoder decoder;
        private final Map<Sequence, EngineSlot> slots = new IdentityHashMap<>();

        Batch(BatchDecoder decoder) {
            this.decoder = decoder;
        }

        @Override
        public Slot add(int[] prompt, Params params, Sink sink) {
            Sequence seq = decoder.add(prompt, samplingParams(params), LlmEngineRunner.this::decode,
                    (id, delta, lp) -> sink.onToken(id, delta == null ? "" : delta, lp == null ? null : convert(lp)));
            EngineSlot slot = new EngineSlot(seq, sink);
            if (seq.isFinished()) {
                slot.finish();
            } else {
                slots.put(seq, slot);
            }
            return slot;
        }

        @Override
        public void step() {
            for (Sequence done : decoder.step()) {
                EngineSlot slot = slots.remove(done);
                if (slot != null) {
                    slot.finish();
                }
            }
        }

        @Override
        public void remove(Slot slot) {
            EngineSlot s = (EngineSlot) slot;
            if (slots.remove(s.seq) != null) {
                decoder.remove(s.seq);
            }
        }

        @Override
        public int active() {
            return decoder.active();
        }

        @Override
        public boolean hasRoom() {
            return decoder.hasRoom();
        }

        @Override
        public void close() {
            decoder.close();
        }
    }

    private record EngineSlot(Sequence seq, Sink sink) implements Slot {
        void finish() {
            sink.onFinish(seq.finishReason().openAiName(), seq.tokens(), seq.text());
        }

        @Override
        public boolean isFinished() {
            return seq.isFinished();
        }
    }

    @Override
    public List<TokenLogprob> score(int[] context, int[] tokens, int top) {
        int[] all = new int[context.length + tokens.length];
        System.arraycopy(context, 0, all, 0, context.length);
        System.arraycopy(tokens, 0, all, context.length, tokens.length);
        return PromptLogprobs.of(model, all, context.length, top).stream().map(LlmEngineRunner::convert).toList();
    }

    private static TokenLogprob convert(TokenLogprobs lp) {
        double[] top = new double[lp.topLogprobs().length];
        for (int i = 0; i < top.length; i++) {
            top[i] = lp.topLogprobs()[i];
        }
        return new TokenLogprob(lp.token(), lp.logprob(), lp.topIds(), top);
    }

    @Override
    public long weightBytes() {
        return weightBytes;
    }

    @Override
    public void close() {
        tokenizer.close();
        model.close();
    }
}
