package dev.forgeline.engine.model;

/** How a loaded model holds its projection weights. */
public enum WeightLayout {
    /**
     * libtorch tensors, which every path runs on (training, merging, CUDA, the tensor forward); the
     * CPU kernel packs a second copy when a decoder is made.
     */
    TENSORS,
    /**
     * For serving on the CPU in float32: each projection is packed into {@link CpuDecodeKernel}'s
     * tiles as it loads and libtorch's copy is freed (a tied head's tiles also serve the embedding
     * lookups), so the weights take about their own size once. Only the kernel can run such a model.
     * Where the kernel cannot hold it (another device or dtype, no 16-float vectors, too little Java
     * heap) the model loads as {@link #TENSORS} and a log line says why.
     */
    PACKED
}
