package dev.forgeline.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.generate.Generator;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21's second criterion: DPO with LoRA on stories260k learns {@link ColourPreferences}
 * (answer with a colour, not an animal) on CPU, measured on held-out prompts by preference
 * accuracy and by what greedy decoding answers; the merged model computes what the adapters did.
 */
class Stories260kDpoTest {

    private static Path base;
    private static Tokenizer tokenizer;
    private static ChatTemplate template;
    private static int threads;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        ai.djl.engine.Engine.getInstance();
        threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1); // a 64-wide model: one intra-op thread, as in Stories260kLearningTest
        base = SharedData.model("stories260k");
        tokenizer = Tokenizer.load(base);
        template = ChatTemplate.fromModelDir(base);
    }

    @AfterAll
    static void close() {
        JniUtils.setNumThreads(threads);
        tokenizer.close();
    }

    static TrainingConfig dpoConfig() {
        return TrainingConfig.builder()
                .objective(TrainingConfig.Objective.DPO).dpoBeta(0.1).dpoAlpha(0.2)
                .lora(new TrainingConfig.LoraConfig(16, 32, 0.0, null))
                .learningRate(2e-3).schedule(TrainingConfig.Schedule.COSINE).warmupRatio(0.05)
                .microBatchSize(8).epochs(10).maxSeqLength(64).evalInterval(0).saveInterval(0).seed(42)
                .build();
    }

    /** TRL's conversational shape: prompt as messages, replies as one assistant message each. */
    static Path writeJsonl(Path file, List<PreferenceExample> pairs) throws Exception {
        ObjectMapper json = new ObjectMapper();
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            for (PreferenceExample e : pairs) {
                w.write(json.writeValueAsString(Map.of(
                        "prompt", e.prompt().stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList(),
                        "chosen", List.of(Map.of("role", "assistant", "content", e.chosen().content())),
                        "rejected", List.of(Map.of("role", "assistant", "content", e.rejected().content())))));
                w.newLine();
            }
        }
        return file;
    }

    @Test
    void dpoWithLoraLearnsToPreferColours() throws Exception {
        List<PreferenceExample> train = PreferenceDataset.read(writeJsonl(tmp.resolve("train.jsonl"), ColourPreferences.train()));
        List<PreferenceExample> heldOut = PreferenceDataset.read(writeJsonl(tmp.resolve("test.jsonl"), ColourPreferences.heldOut()));
        assertEquals(56, train.size());
        assertEquals(16, heldOut.size());
        TrainingConfig config = dpoConfig();
        PreferenceData data = PreferenceData.encode(tokenizer, template, config, train, heldOut);
        assertEquals(56, data.trainStats().kept());

        try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
            Trainer trainer = new Trainer(model, config);
            Generator generator = new Generator(model);
            SamplingParams greedy = SamplingParams.builder().maxTokens(4)
                    .stopTokenIds(Arrays.stream(tokenizer.eosTokenIds()).boxed().collect(Collectors.toSet())).build();
            int colouredBefore = coloured(generator, greedy, heldOut, null);

            List<TrainingProgress> progress = new ArrayList<>();
            List<PreferenceMetrics> evaluations = new ArrayList<>();
            long t0 = System.nanoTime();
            TrainingResult result = trainer.train(data, new TrainingListener() {
                @Override
                public void onStep(TrainingProgress p) {
                    progress.add(p);
                }

                @Override
                public void onPreferenceEvaluation(int step, PreferenceMetrics m) {
                    evaluations.add(m);
                }
            }, null, () -> false);
            double seconds = (System.nanoTime() - t0) / 1e9;
            trainer.trainable().freeze();
            assertEquals(70, result.steps());
            assertEquals(2, evaluations.size(), "before and after training");
            PreferenceMetrics before = evaluations.get(0);
            PreferenceMetrics after = evaluations.get(1);
            TrainingProgress last = progress.get(progress.size() - 1);
            assertEquals(8, last.preference().pairs());
            assertEquals(0, progress.get(0).preference().rewardMargin(), 1e-5, "fresh adapters: the policy is the reference");
            List<String> answers = new ArrayList<>();
            int colouredAfter = coloured(generator, greedy, heldOut, answers);
            System.out.printf("DPO: %d steps in %.1f s; last step loss %.3f margin %.3f accuracy %.2f; held-out loss %.3f -> %.3f, "
                    + "accuracy %.2f -> %.2f, margin %.3f; greedy colour answers %d/16 -> %d/16, e.g. %s%n",
                    result.steps(), seconds, last.loss(), last.preference().rewardMargin(), last.preference().accuracy(),
                    before.loss(), after.loss(), before.accuracy(), after.accuracy(), after.rewardMargin(),
                    colouredBefore, colouredAfter, answers);
            assertEquals(16, after.pairs());
            assertTrue(after.accuracy() >= 0.9, "held-out preference accuracy " + after.accuracy());
            assertTrue(colouredAfter >= 13, colouredAfter + "/16 greedy held-out answers name a colour"); // 80%
            assertTrue(after.loss() < before.loss(), "held-out DPO loss " + before.loss() + " -> " + after.loss());

            // The merged model computes what the adapters did: in float32 in memory (relative to the
            // logits' size, as Stories260kLearningTest), and exported and reloaded in float64 against
            // the base with the trained adapters attached (absolute 1e-5; only the export's float32
            // rounding of W + BA separates them).
            int[] prompt = tokenizer.encode(template.render(heldOut.get(0).prompt(), true), false);
            float[] adapted = logits(model, prompt);
            Map<String, double[][]> trained = new java.util.LinkedHashMap<>();
            trainer.trainable().adapters().forEach((name, a) ->
                    trained.put(name, new double[][] {a.a().toType(DataType.FLOAT64, false).toDoubleArray(),
                            a.b().toType(DataType.FLOAT64, false).toDoubleArray()}));
            Path merged = ModelExport.writeMerged(model, base, tmp.resolve("merged"));
            assertFalse(model.hasAdapters());
            double diff = LoraGradientTest.maxDiff(adapted, logits(model, prompt));
            double scale = 0;
            for (float v : adapted) {
                scale = Math.max(scale, Math.abs(v));
            }
            assertTrue(diff < 1e-5 * Math.max(1, scale), "merged float32 logits differ by " + diff);
            double exported;
            try (CausalLm withAdapters = CausalLm.load(base, Device.cpu(), DataType.FLOAT64);
                    CausalLm reloaded = CausalLm.load(merged, Device.cpu(), DataType.FLOAT64)) {
                TrainableSet set = TrainableSet.lora(withAdapters, config.lora(), 1);
                assertEquals(trained.keySet(), set.adapters().keySet());
                set.adapters().forEach((name, a) -> {
                    copy(trained.get(name)[0], a.a());
                    copy(trained.get(name)[1], a.b());
                });
                set.freeze();
                exported = maxDiff(logits64(withAdapters, prompt), logits64(reloaded, prompt));
            }
            System.out.printf("merged vs adapter logits: float32 in memory max |diff| %.2e (max |logit| %.1f); "
                    + "exported merged model vs adapters in float64 max |diff| %.2e%n", diff, scale, exported);
            assertTrue(exported < 1e-5, "exported merged logits differ by " + exported);
        }
    }

    private static void copy(double[] values, ai.djl.ndarray.NDArray target) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = target.getManager().newSubManager()) {
            m.create(values).reshape(target.getShape()).toType(target.getDataType(), false).copyTo(target);
        }
    }

    private static double[] logits64(CausalLm model, int[] ids) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            return model.forward(model.tokens(m, List.of(ids), ids.length, 0), Step.uncached(m, model, 1, ids.length))
                    .toDoubleArray();
        }
    }

    private static double maxDiff(double[] a, double[] b) {
        assertEquals(a.length, b.length);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    /** DPO runs in the trainer's one loop: a run cancelled after step 7 resumes from step 5 to the same losses. */
    @Test
    void dpoResumesFromItsCheckpointToTheSameLosses() {
        TrainingConfig config = dpoConfig().toBuilder()
                .lora(new TrainingConfig.LoraConfig(8, 16, 0.1, null)) // dropout on: the RNG must resume too
                .maxSteps(12).microBatchSize(4).gradientAccumulation(2).saveInterval(5)
                .schedule(TrainingConfig.Schedule.LINEAR).warmupRatio(0.2).build();
        PreferenceData data = PreferenceData.encode(tokenizer, template, config, ColourPreferences.train(), List.of());
        InterruptedRun run = InterruptedRun.of(base, config, tmp, 7,
                (trainer, listener, checkpoints, cancelled) -> trainer.train(data, listener, checkpoints, cancelled));
        TrainingResult uninterrupted = run.uninterrupted();
        TrainingResult resumed = run.resumed();
        assertTrue(run.stopped().cancelled());
        assertEquals(5, resumed.resumedFromStep());
        assertEquals(12, resumed.losses().size());
        double worst = run.maxLossDiff();
        System.out.printf("DPO resume: losses %s, max |diff| vs uninterrupted %.2e%n", resumed.losses(), worst);
        assertTrue(uninterrupted.losses().get(11) < uninterrupted.losses().get(0), "the loss falls");
        assertTrue(worst <= 1e-4, "resumed losses differ by " + worst);
    }

    /** The job the trainer service runs: preference JSONL in, merged model, adapter and card out. */
    @Test
    void fineTuneJobRunsDpoAndReportsHeldOutPreferenceAccuracy() throws Exception {
        Path trainFile = writeJsonl(tmp.resolve("train.jsonl"), ColourPreferences.train());
        Path testFile = writeJsonl(tmp.resolve("test.jsonl"), ColourPreferences.heldOut());
        TrainingConfig config = dpoConfig().toBuilder().epochs(4).build();
        Path out = tmp.resolve("models").resolve("dpo1");
        FineTune.Outcome o = FineTune.run(new FineTune.Job(base, trainFile, testFile, config, out, tmp.resolve("ckpt"), null),
                null, null);
        assertEquals(28, o.result().steps());
        com.fasterxml.jackson.databind.JsonNode card = new ObjectMapper().readTree(out.resolve("card.json").toFile());
        assertEquals("dpo", card.get("method").asText());
        assertEquals(0.1, card.get("hyperparameters").get("beta").asDouble());
        assertEquals(56, card.get("training").get("train_pairs").asInt());
        double accuracy = card.get("eval").get("held_out_preference_accuracy").asDouble();
        assertEquals(o.heldOut().accuracy(), accuracy);
        assertTrue(accuracy >= 0.9, "held-out preference accuracy " + accuracy);
        assertEquals(0.0, card.get("eval").get("base_held_out_preference_accuracy").asDouble(), "fresh adapters: margins 0");
        assertTrue(Files.isRegularFile(out.resolve("adapter").resolve("adapter_model.safetensors")));
        List<PreferenceExample> heldOut = PreferenceDataset.read(testFile);
        try (CausalLm reloaded = CausalLm.load(out, Device.cpu(), DataType.FLOAT32);
                CausalLm original = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
            assertFalse(reloaded.hasAdapters());
            // what an eval of the merged model against its base measures: the trainer's figure, up to
            // pairs whose margin float32 rounding may flip
            HeldOutPreferences.Result tuned = HeldOutPreferences.of(reloaded, tokenizer, template, heldOut, 512, 4);
            HeldOutPreferences.Result before = HeldOutPreferences.of(original, tokenizer, template, heldOut, 512, 4);
            assertEquals(16, tuned.logProbs().size());
            assertEquals(accuracy, tuned.rewardAccuracy(before), 1.0 / 16 + 1e-9);
            assertEquals(0.0, before.rewardAccuracy(before), "a model against itself moves no pair");
            assertTrue(tuned.pairwiseAccuracy() > before.pairwiseAccuracy(),
                    "pairwise " + tuned.pairwiseAccuracy() + " against the base's " + before.pairwiseAccuracy());
        }
    }

    /** How many held-out prompts greedy decoding answers with a colour. */
    private int coloured(Generator generator, SamplingParams greedy, List<PreferenceExample> prompts, List<String> answers) {
        int n = 0;
        for (PreferenceExample e : prompts) {
            int[] ids = tokenizer.encode(template.render(e.prompt(), true), false);
            String answer = tokenizer.decode(generator.generate(ids, greedy).tokens(), true);
            if (answers != null) {
                answers.add(answer.strip());
            }
            n += ColourPreferences.namesColour(answer) ? 1 : 0;
        }
        return n;
    }

    private static float[] logits(CausalLm model, int[] ids) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            return model.forward(model.tokens(m, List.of(ids), ids.length, 0), Step.uncached(m, model, 1, ids.length))
                    .toFloatArray();
        }
    }

    /** The encoder on stories260k's template: shared prompt, reply targets, EOS added and masked by default. */
    @Test
    void encoderSharesThePromptAndMasksFormatTokens() {
        PreferenceExample e = PreferenceExample.of("Tell me about the ball.", "red.", "cat.");
        int[] prompt = tokenizer.encode(template.render(e.prompt(), true), false);
        PreferencePair masked = new PreferenceEncoder(tokenizer, template, 64, true).encode(e);
        PreferencePair all = new PreferenceEncoder(tokenizer, template, 64, false).encode(e);
        for (PreferencePair p : List.of(masked, all)) {
            assertArrayEquals(prompt, Arrays.copyOf(p.chosen().ids(), prompt.length));
            assertArrayEquals(prompt, Arrays.copyOf(p.rejected().ids(), prompt.length));
            for (EncodedExample r : List.of(p.chosen(), p.rejected())) {
                for (int i = 0; i < prompt.length; i++) {
                    assertFalse(r.target()[i], "prompt token " + i + " is no target");
                }
                assertEquals(2, r.ids()[r.length() - 1], "the template ends no turn: EOS (</s>) appended");
            }
        }
        EncodedExample c = masked.chosen();
        assertFalse(c.target()[c.length() - 1], "EOS is a formatting token: masked by default");
        assertTrue(all.chosen().target()[c.length() - 1], "unmasked when configured");
        assertEquals(c.length() - prompt.length - 1, c.targetCount(), "every reply token but EOS");
        assertEquals("red.", tokenizer.decode(Arrays.copyOfRange(c.ids(), prompt.length, c.length() - 1), true).strip());
    }
}
