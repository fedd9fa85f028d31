package dev.forgeline.engine.train;

/**
 * DPO's measures over a set of pairs (an optimizer step's, or the held-out set's).
 *
 * @param loss         mean DPO loss per pair (the NLL term included when alpha > 0)
 * @param rewardMargin mean of beta * ((log pi - log ref)(y_w) - (log pi - log ref)(y_l))
 * @param accuracy     share of pairs whose margin is positive
 */
public record PreferenceMetrics(int pairs, double loss, double rewardMargin, double accuracy) {}
