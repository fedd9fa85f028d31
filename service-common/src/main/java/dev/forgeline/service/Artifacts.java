package dev.forgeline.service;

import dev.forgeline.jobs.ArtifactStore;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The artifact store named by {@code forge.artifacts.root}, for any bean that injects {@link ArtifactStore}. */
public class Artifacts {
    @Produces
    @Singleton
    ArtifactStore artifactStore(ForgeConfig config) {
        return ArtifactStore.fromUri(config.artifacts().root());
    }
}
