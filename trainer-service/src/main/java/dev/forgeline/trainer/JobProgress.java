package dev.forgeline.trainer;

import dev.forgeline.engine.train.TrainingListener;
import dev.forgeline.engine.train.PreferenceMetrics;
import dev.forgeline.engine.train.TrainingProgress;
import dev.forgeline.jobs.JobContext;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The engine's training callbacks as job reports: a {@code progress} event every
 * {@code every} steps, an {@code eval} event per held-out evaluation, and each saved checkpoint
 * recorded as the job's resume point ({@code step-N}).
 */
final class JobProgress implements TrainingListener {
    static final String EVAL = "eval";

    private final JobContext<?> ctx;
    private final int every;
    private boolean reported;
    private PreferenceMetrics preference; // dpo: the held-out measures of the evaluation being reported

    JobProgress(JobContext<?> ctx, int every) {
        this.ctx = ctx;
        this.every = Math.max(1, every);
    }

    static String marker(int step) {
        return "step-" + step;
    }

    @Override
    public void onStep(TrainingProgress p) {
        boolean first = !reported;
        if (!first && p.step() % every != 0 && p.step() != p.totalSteps()) {
            return;
        }
        reported = true;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", p.step());
        m.put("total_steps", p.totalSteps());
        m.put("epoch", round(p.epoch(), 4));
        m.put("loss", p.loss());
        m.put("learning_rate", p.learningRate());
        m.put("grad_norm", p.gradNorm());
        m.put("tokens_per_s", round(p.tokensPerSecond(), 1));
        m.put("eta_s", round(p.etaSeconds(), 1));
        if (p.preference() != null) { // dpo
            m.put("reward_margin", p.preference().rewardMargin());
            m.put("accuracy", p.preference().accuracy());
        }
        ctx.progress((double) p.step() / p.totalSteps(), m);
    }

    @Override
    public void onPreferenceEvaluation(int step, PreferenceMetrics heldOut) {
        preference = heldOut;
    }

    /** One event per evaluation; a DPO job's carries the preference measures reported just before. */
    @Override
    public void onEvaluation(int step, double heldOutLoss) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        m.put("held_out_loss", heldOutLoss);
        if (preference != null) {
            m.put("held_out_preference_accuracy", preference.accuracy());
            m.put("held_out_reward_margin", preference.rewardMargin());
            preference = null;
        }
        ctx.event(EVAL, m);
    }

    /** The checkpoint folder is complete (renamed into place) before the engine calls this. */
    @Override
    public void onCheckpoint(int step, Path directory) {
        ctx.checkpoint(marker(step));
    }

    private static double round(double v, int digits) {
        if (!Double.isFinite(v)) {
            return v;
        }
        double scale = Math.pow(10, digits);
        return Math.round(v * scale) / scale;
    }
}
