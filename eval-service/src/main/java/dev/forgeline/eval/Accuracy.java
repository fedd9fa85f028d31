package dev.forgeline.eval;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/** Accuracy with its standard error, averaged over subjects, and the paired comparison of two runs. */
public final class Accuracy {
    private Accuracy() {}

    /** @param stderr NaN below two items */
    public record Score(int n, int correct, double accuracy, double stderr) {}

    /**
     * @param micro pooled over every item (subjects weighted by size)
     * @param macro the unweighted mean of subject accuracies; its stderr is sqrt(sum of subject stderr^2) / k
     */
    public record Summary(Map<String, Score> subjects, Score micro, Score macro) {}

    /** The sample standard error lm-evaluation-harness reports for a mean of 0/1 outcomes: sqrt(p(1-p)/(n-1)). */
    public static double stderr(double p, int n) {
        return n < 2 ? Double.NaN : Math.sqrt(p * (1 - p) / (n - 1));
    }

    public static Summary of(Map<String, boolean[]> correctBySubject) {
        Map<String, Score> subjects = new LinkedHashMap<>();
        int n = 0;
        int correct = 0;
        double sum = 0;
        double variance = 0;
        for (Map.Entry<String, boolean[]> e : correctBySubject.entrySet()) {
            Score s = score(e.getValue());
            subjects.put(e.getKey(), s);
            n += s.n();
            correct += s.correct();
            sum += s.accuracy();
            if (!Double.isNaN(s.stderr())) {
                variance += s.stderr() * s.stderr();
            }
        }
        double p = n == 0 ? Double.NaN : (double) correct / n;
        int k = subjects.size();
        Score micro = new Score(n, correct, p, stderr(p, n));
        Score macro = new Score(n, correct, k == 0 ? Double.NaN : sum / k, k == 0 ? Double.NaN : Math.sqrt(variance) / k);
        return new Summary(subjects, micro, macro);
    }

    private static Score score(boolean[] c) {
        int right = 0;
        for (boolean b : c) {
            right += b ? 1 : 0;
        }
        double p = c.length == 0 ? Double.NaN : (double) right / c.length;
        return new Score(c.length, right, p, stderr(p, c.length));
    }

    /**
     * Two-sided exact McNemar test: the binomial test of the discordant pairs against p = 1/2,
     * min(1, 2 P(X <= min(b, c))) with X ~ Bin(b + c, 1/2), summed in log space.
     */
    public static double mcnemarExactP(int onlyFirstRight, int onlySecondRight) {
        int n = onlyFirstRight + onlySecondRight;
        if (n == 0) {
            return 1.0;
        }
        int k = Math.min(onlyFirstRight, onlySecondRight);
        double logHalfN = n * Math.log(0.5);
        double logTerm = logHalfN; // log(C(n,0) / 2^n)
        double max = logTerm;
        double[] terms = new double[k + 1];
        terms[0] = logTerm;
        for (int i = 1; i <= k; i++) {
            logTerm += Math.log((double) (n - i + 1) / i);
            terms[i] = logTerm;
            max = Math.max(max, logTerm);
        }
        double sum = 0;
        for (double t : terms) {
            sum += Math.exp(t - max);
        }
        return Math.min(1.0, 2 * Math.exp(max + Math.log(sum)));
    }

    /**
     * 95% percentile interval of accuracy(first) - accuracy(second), resampling item indices with
     * replacement (the same indices for both runs); the same seed gives the same interval.
     */
    public static double[] pairedBootstrapInterval(boolean[] first, boolean[] second, int resamples, long seed) {
        if (first.length != second.length) {
            throw new IllegalArgumentException(first.length + " items against " + second.length);
        }
        int n = first.length;
        if (n == 0 || resamples < 1) {
            return new double[] {Double.NaN, Double.NaN};
        }
        int[] diff = new int[n];
        for (int i = 0; i < n; i++) {
            diff[i] = (first[i] ? 1 : 0) - (second[i] ? 1 : 0);
        }
        SplittableRandom random = new SplittableRandom(seed);
        double[] stats = new double[resamples];
        for (int r = 0; r < resamples; r++) {
            long sum = 0;
            for (int i = 0; i < n; i++) {
                sum += diff[random.nextInt(n)];
            }
            stats[r] = (double) sum / n;
        }
        java.util.Arrays.sort(stats);
        return new double[] {stats[(int) Math.floor(0.025 * (resamples - 1))], stats[(int) Math.ceil(0.975 * (resamples - 1))]};
    }
}
