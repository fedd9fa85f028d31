package dev.forgeline.engine.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.generate.BatchDecoder;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import dev.forgeline.engine.model.WeightLayout;
import dev.forgeline.engine.weights.RandomModel;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code bench/run decode}: prefill and decode speed of a random model with SmolLM-135M's shape
 * (fp32, CPU), against the decode bound of this machine measured in the same run: memory
 * bandwidth divided by the weight bytes one token reads. The last line is one JSON object.
 *
 * <p>The first prompt of a fresh server is one sample on a host whose speed swings 20-50% from one
 * minute to the next, so it is taken in {@link #FRESH_SERVERS} JVMs that each load the model, warm
 * up and serve that one prompt (this one, then child JVMs with the same flags), and the median
 * counts; every sample is printed.
 */
public final class DecodeBenchmark {

    /*
     * The issue calibrates the bound with about 48 GB/s on these machines. The in-run probe has
     * read from 35 to 82 GB/s on the same machine from one run to the next (a shared host), so
     * the ratio against the quoted figure is shown too.
     */
    private static final double QUOTED_BANDWIDTH = 48e9;

    /** JVMs whose first prompt is measured: this one and the rest as children. */
    private static final int FRESH_SERVERS = 3;

    private static final String FRESH_SERVER = "--fresh-server";

    /** Tokens of the prompts whose prefill is timed. */
    private static final int PREFILL_LENGTH = 256;

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals(FRESH_SERVER)) {
            Path dir = Path.of(args[1]);
            long load = System.nanoTime();
            try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32, WeightLayout.PACKED)) {
                FirstPrompt first = firstPrompt(model, (System.nanoTime() - load) / 1e9, PREFILL_LENGTH, new SplittableRandom(3));
                System.out.println(FRESH_SERVER + " " + first.encode());
            }
            return;
        }
        int promptLength = 16;
        int decodeSteps = Integer.getInteger("bench.steps", 64);
        int prefillLength = PREFILL_LENGTH;
        int batch = 8;

        ModelConfig config = RandomModel.smolLm135mShape();
        Path dir = Files.createTempDirectory("forge-bench-smollm");
        long t0 = System.nanoTime();
        RandomModel.write(dir, config, 1);
        System.out.printf(Locale.ROOT, "random SmolLM-135M-shaped model written in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        long weightBytes = CausalLm.weightBytesPerToken(config, DataType.FLOAT32);
        double single;
        double batched;
        double packedPrefill;
        double firstPrefill;
        String firstSamples;
        double warmUp;
        boolean memoryMet;
        long rssMb;
        long rssLimitMb;
        Engine engine = Engine.getInstance(); // loads libtorch
        long rssEngine = ProcessMemory.resident();
        int torchThreads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        String waitPolicy = System.getenv().getOrDefault("OMP_WAIT_POLICY", "default");
        System.out.println("engine: " + Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion()
                + ", intra-op threads " + torchThreads + ", OMP_WAIT_POLICY " + waitPolicy);

        // As the gateway loads a model: packed for the CPU kernel, libtorch's copy freed (WeightLayout.PACKED).
        long load = System.nanoTime();
        double prefill;
        List<FirstPrompt> firsts = new ArrayList<>();
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32, WeightLayout.PACKED)) {
            double loadSeconds = (System.nanoTime() - load) / 1e9;
            if (!model.packedOnly()) {
                throw new IllegalStateException("the model did not load packed (the log says why)");
            }
            SplittableRandom random = new SplittableRandom(3);
            // First, as in a server: load, warm-up, then the first prompt (no batched step before it).
            FirstPrompt own = firstPrompt(model, loadSeconds, prefillLength, random);
            long rssLimit = weightBytes * 3 / 2 + (500L << 20);
            System.out.printf(Locale.ROOT, "resident memory after load and warm-up: %d MB (float32 weights %d MB; goal under 1.5x + 500 MB = %d MB); "
                    + "with libtorch loaded %d MB, with the model loaded (packed) %d MB, Java heap committed %d MB%n",
                    own.rss() >> 20, weightBytes >> 20, rssLimit >> 20, rssEngine >> 20, own.rssLoaded() >> 20, Runtime.getRuntime().totalMemory() >> 20);
            firsts.add(own);
            for (int i = 1; i < FRESH_SERVERS; i++) {
                firsts.add(inChildJvm(dir));
            }
            for (int i = 0; i < firsts.size(); i++) {
                FirstPrompt f = firsts.get(i);
                System.out.printf(Locale.ROOT, "first prompt on a fresh model, JVM %d%s: %.1f tokens/s (%d-token prompt; load with packing %.2f s, warm-up %.2f s, resident %d MB)%n",
                        i + 1, i == 0 ? " (this one)" : " (a child)", f.tokensPerSecond(), prefillLength, f.loadSeconds(), f.warmUpSeconds(), f.rss() >> 20);
            }
            double best = kernelPrefillTokensPerSecond(model, prefillLength, random, 3);
            System.out.printf(Locale.ROOT, "best of 3 prompts after it in this JVM: %.1f tokens/s%n", best);
            double[] decode = decodeTokensPerSecond(model, new int[] {1, batch}, promptLength, decodeSteps, random);
            single = decode[0];
            batched = decode[1];
            packedPrefill = kernelPrefillTokensPerSecond(model, prefillLength, random, 3);
            System.out.printf(Locale.ROOT, "prefill after batched decode: %.1f tokens/s (%d-token prompt)%n", packedPrefill, prefillLength);
            double[] rates = firsts.stream().mapToDouble(FirstPrompt::tokensPerSecond).sorted().toArray();
            firstPrefill = rates[rates.length / 2];
            firstSamples = firsts.stream().map(f -> String.format(Locale.ROOT, "%.2f", f.tokensPerSecond()))
                    .collect(java.util.stream.Collectors.joining(",", "[", "]"));
            System.out.printf(Locale.ROOT, "first prompt on a fresh model: median %.1f tokens/s of %d JVMs (%.1f to %.1f)%n",
                    firstPrefill, rates.length, rates[0], rates[rates.length - 1]);
            warmUp = own.warmUpSeconds();
            long rss = firsts.stream().mapToLong(FirstPrompt::rss).max().orElseThrow();
            memoryMet = rss <= rssLimit;
            rssMb = rss >> 20;
            rssLimitMb = rssLimit >> 20;
        }
        // The baseline: the same prompt through libtorch, on a model that keeps its tensors.
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32, WeightLayout.TENSORS)) {
            prefill = prefillTokensPerSecond(model, prefillLength, new SplittableRandom(4));
            System.out.printf(Locale.ROOT, "prefill through libtorch: %.1f tokens/s (%d-token prompt)%n", prefill, prefillLength);
        }
        try {
            /*
             * Measured last: decoding right after the probe's 2 GB of Java arrays ran at 45-70 ms
             * a step instead of 28-30 here, and the order does not change the bandwidth.
             */
            int threads = Runtime.getRuntime().availableProcessors();
            double bandwidth = MemoryBandwidth.measure(threads, 512L << 20, 5);
            double bound = bandwidth / weightBytes;
            System.out.printf(Locale.ROOT, "memory bandwidth: %.1f GB/s (%d threads, read + written)%n", bandwidth / 1e9, threads);
            System.out.printf(Locale.ROOT, "weights read per token: %.1f MB -> decode bound %.1f tokens/s%n", weightBytes / 1e6, bound);
            System.out.printf(Locale.ROOT, "decode batch 1: %.1f tokens/s (%.2f of the bound)%n", single, single / bound);
            System.out.printf(Locale.ROOT, "decode batch %d: %.1f tokens/s total (%.2fx batch 1)%n", batch, batched, batched / single);
            double ratio = single / bound;
            double quotedBound = QUOTED_BANDWIDTH / weightBytes;
            System.out.printf(Locale.ROOT, "against the issue's quoted 48 GB/s (bound %.1f tokens/s): batch 1 at %.2f%n",
                    quotedBound, single / quotedBound);
            boolean met = ratio >= 0.45 && batched >= 4 * single && firstPrefill >= 600 && memoryMet;
            boolean metQuoted = single / quotedBound >= 0.45 && batched >= 4 * single && firstPrefill >= 600 && memoryMet;
            System.out.printf(Locale.ROOT,
                    "{\"benchmark\":\"decode\",\"model\":\"random SmolLM-135M shape fp32 cpu\",\"threads\":%d,"
                            + "\"torch_threads\":%d,\"omp_wait_policy\":\"%s\","
                            + "\"memory_bandwidth_gb_s\":%.2f,\"weight_bytes_per_token\":%d,\"decode_bound_tok_s\":%.2f,"
                            + "\"prefill_tok_s\":%.2f,\"first_prefill_tok_s\":%.2f,\"first_prefill_samples_tok_s\":%s,\"warm_up_s\":%.2f,\"rss_after_load_mb\":%d,\"prefill_packed_tok_s\":%.2f,\"decode_b1_tok_s\":%.2f,\"decode_b%d_tok_s\":%.2f,"
                            + "\"ratio_b1_to_bound\":%.3f,\"ratio_b1_to_quoted_48gb_s_bound\":%.3f,\"batch_speedup\":%.2f,"
                            + "\"goal\":{\"ratio_b1_to_bound\":0.45,\"batch_speedup\":4.0,\"first_prefill_tok_s\":600,\"rss_after_load_mb\":%d},\"goal_met\":%s,"
                            + "\"goal_met_against_quoted_bound\":%s}%n",
                    threads, torchThreads, waitPolicy, bandwidth / 1e9, weightBytes, bound, prefill, firstPrefill, firstSamples, warmUp, rssMb, packedPrefill, single, batch, batched, ratio,
                    single / quotedBound, batched / single, rssLimitMb, met, metQuoted);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** {@link ProcessMemory#resident} once the load's mapped buffers are unreachable and cleaned (two GCs apart). */
    static long settledResidentBytes() throws InterruptedException {
        System.gc();
        Thread.sleep(1000);
        System.gc();
        Thread.sleep(500);
        return ProcessMemory.resident();
    }

    static int[] prompt(SplittableRandom random, int length, int vocab) {
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) {
            ids[i] = 3 + random.nextInt(vocab - 3);
        }
        return ids;
    }

    static double prefillTokensPerSecond(CausalLm model, int length, SplittableRandom random) {
        double best = 0;
        for (int r = 0; r < 4; r++) { // first round warms up
            int[] ids = prompt(random, length, model.config().vocabSize());
            long t0 = System.nanoTime();
            try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
                Step step = Step.uncached(m, model, 1, length);
                model.logitsAt(model.hidden(model.tokens(m, List.of(ids), length, 0), step), step, new int[] {length - 1})
                        .toFloatArray();
            }
            double rate = length / ((System.nanoTime() - t0) / 1e9);
            if (r > 0) {
                best = Math.max(best, rate);
            }
        }
        return best;
    }

    /** What a fresh server's first prompt took, and the JVM's resident memory before it. */
    record FirstPrompt(double tokensPerSecond, long rss, long rssLoaded, double loadSeconds, double warmUpSeconds) {
        String encode() {
            return String.format(Locale.ROOT, "%f %d %d %f %f", tokensPerSecond, rss, rssLoaded, loadSeconds, warmUpSeconds);
        }

        static FirstPrompt decode(String line) {
            String[] f = line.trim().split(" ");
            return new FirstPrompt(Double.parseDouble(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]),
                    Double.parseDouble(f[3]), Double.parseDouble(f[4]));
        }
    }

    /**
     * As a server after loading {@code model}: the resident memory once settled, the warm-up,
     * the resident memory again, then one prompt through {@code BatchDecoder.add}, timed.
     */
    static FirstPrompt firstPrompt(CausalLm model, double loadSeconds, int length, SplittableRandom random)
            throws InterruptedException {
        long rssLoaded = settledResidentBytes();
        long warm = System.nanoTime();
        BatchDecoder.warmUp(model);
        double warmUpSeconds = (System.nanoTime() - warm) / 1e9;
        long rss = settledResidentBytes();
        return new FirstPrompt(kernelPrefillTokensPerSecond(model, length, random, 1), rss, rssLoaded, loadSeconds, warmUpSeconds);
    }

    /** {@link #firstPrompt} in a new JVM with this one's flags and class path. */
    static FirstPrompt inChildJvm(Path dir) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), DecodeBenchmark.class.getName(), FRESH_SERVER,
                dir.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String result = null;
        try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()))) {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                if (line.startsWith(FRESH_SERVER + " ")) {
                    result = line.substring(FRESH_SERVER.length() + 1);
                }
            }
        }
        if (child.waitFor() != 0 || result == null) {
            throw new IllegalStateException("the child JVM measuring a first prompt exited " + child.exitValue());
        }
        return FirstPrompt.decode(result);
    }

    /**
     * Prefill as a server does it: through {@code BatchDecoder.add}, on the CPU decode kernel;
     * the best of {@code prompts} prompts, each of new random tokens in a new decoder.
     */
    static double kernelPrefillTokensPerSecond(CausalLm model, int length, SplittableRandom random, int prompts) {
        double best = 0;
        SamplingParams one = SamplingParams.builder().maxTokens(1).build();
        for (int r = 0; r < prompts; r++) {
            try (BatchDecoder decoder = new BatchDecoder(model, 1, length + 8)) {
                int[] ids = prompt(random, length, model.config().vocabSize());
                long t0 = System.nanoTime();
                decoder.add(ids, one, null, null);
                best = Math.max(best, length / ((System.nanoTime() - t0) / 1e9));
            }
        }
        return best;
    }

    /*
     * The decode loop reaches its steady speed only after its first round or two (a single-stream
     * step took 28, then 22 ms in successive rounds of 64): the JIT compiles the step's Java code
     * (the CPU decode kernel's loops) once it has run some thousands of times. A server lives in
     * that steady state, so the first rounds only warm up. Step times then still vary by 10-20%
     * between rounds on these shared machines; the best round counts, as for the bandwidth, and
     * every round is printed.
     */
    private static final int WARMUP_ROUNDS = Integer.getInteger("bench.warmupRounds", 3);
    private static final int TIMED_ROUNDS = 4;

    /**
     * Generated tokens per second over all sequences, decode steps only (prefill excluded), at
     * each batch size: the best round of each. The sizes take turns round by round, so that both
     * figures of the ratio see the same machine: run one after the other, a slow minute of the
     * shared host fell on one of them (ratios from 3.8x to 8.3x in runs of the same code).
     */
    static double[] decodeTokensPerSecond(CausalLm model, int[] batches, int promptLength, int steps, SplittableRandom random) {
        double[] best = new double[batches.length];
        SamplingParams greedy = SamplingParams.builder().maxTokens(steps + 10).build();
        StringBuilder[] rounds = new StringBuilder[batches.length];
        for (int r = 0; r < WARMUP_ROUNDS + TIMED_ROUNDS; r++) {
            for (int i = 0; i < batches.length; i++) {
                int batch = batches[i];
                try (BatchDecoder decoder = new BatchDecoder(model, batch, promptLength + steps + 16)) {
                    for (int b = 0; b < batch; b++) {
                        decoder.add(prompt(random, promptLength, model.config().vocabSize()), greedy, null, null);
                    }
                    long t0 = System.nanoTime();
                    for (int s = 0; s < steps; s++) {
                        decoder.step();
                    }
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    if (rounds[i] == null) {
                        rounds[i] = new StringBuilder();
                    }
                    rounds[i].append(String.format(Locale.ROOT, r == WARMUP_ROUNDS ? " | %.1f" : " %.1f", seconds * 1e3 / steps));
                    if (r >= WARMUP_ROUNDS) {
                        best[i] = Math.max(best[i], batch * steps / seconds);
                    }
                }
            }
        }
        for (int i = 0; i < batches.length; i++) {
            System.out.printf(Locale.ROOT, "batch %d, ms per step by round (warm-up | timed):%s%n", batches[i], rounds[i]);
        }
        return best;
    }
}
