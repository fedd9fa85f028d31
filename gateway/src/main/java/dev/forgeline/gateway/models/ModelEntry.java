package dev.forgeline.gateway.models;

import dev.forgeline.contracts.ModelCard.RemoteBackend;
import java.nio.file.Path;

/**
 * A servable model: in-process from a Hugging Face folder ({@code dir}) or a Hub id resolved on
 * first load ({@code hubId}), or proxied to a {@code remote} backend.
 */
public record ModelEntry(String id, long created, String ownedBy, String parent, Path dir, String hubId,
        RemoteBackend remote) {

    public boolean isRemote() {
        return remote != null;
    }
}
