package dev.forgeline.engine.model;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Turns autograd recording off for the current thread until closed (torch.no_grad). PyTorch's
 * grad mode is per thread and DJL only switches it off on the thread that loaded the engine,
 * so inference entry points enter this scope: a forward on another thread while LoRA weights
 * are trainable would otherwise build a graph nobody frees.
 */
public final class NoGradient implements AutoCloseable {

    private final boolean previous;
    private final boolean pytorch;

    private NoGradient() {
        this.pytorch = "PyTorch".equals(Engine.getInstance().getEngineName());
        this.previous = pytorch && JniUtils.isGradMode();
        if (previous) {
            JniUtils.setGradMode(false);
        }
    }

    public static NoGradient enter() {
        return new NoGradient();
    }

    @Override
    public void close() {
        if (previous) {
            JniUtils.setGradMode(true);
        }
    }
}
