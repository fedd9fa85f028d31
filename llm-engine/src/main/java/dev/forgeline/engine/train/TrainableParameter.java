package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;

/**
 * One tensor the optimizer updates, under a stable name (checkpoints key on it).
 *
 * @param decay whether AdamW's weight decay applies: matrices yes, norm gains no, as in the
 *              usual transformers recipe
 */
public record TrainableParameter(String name, NDArray value, boolean decay) {}
