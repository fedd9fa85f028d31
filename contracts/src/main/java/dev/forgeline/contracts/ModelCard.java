package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model in the registry ({@code forge.models}, compacted, keyed by id); also written as
 * {@code models/{id}/card.json}. The gateway serves every model whose status is not REJECTED.
 *
 * @param baseModel       the model it was fine-tuned from; null for a base model
 * @param datasetId       the training dataset, with its {@code datasetHash} for lineage
 * @param method          lora, full, freeze... as in the training request; null for a base model
 * @param hyperparameters every training hyperparameter, as the trainer resolved them
 * @param artifactUri     the Hugging Face-format folder, e.g. {@code file:/data/forge/models/x}
 * @param remote          served by a remote OpenAI-compatible backend instead of in-process, when set
 * @param eval            evaluation summary (accuracy, base accuracy, held-out loss, gate verdict...)
 * @param parent          the model this one derives from (usually the base model's id)
 * @param parents         an averaged model ({@code method: average}) only: every model in the mean with its
 *                        normalised weight, in the order they were averaged; null otherwise
 * @param jobId           the job that produced it
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ModelCard(
        String id,
        String baseModel,
        String datasetId,
        String datasetHash,
        String method,
        Map<String, Object> hyperparameters,
        String artifactUri,
        RemoteBackend remote,
        Map<String, Object> eval,
        Status status,
        String parent,
        List<WeightedModel> parents,
        String jobId,
        Instant createdAt,
        int schemaVersion) {

    public enum Status {
        /** A model from outside (the Hub, a folder of base models), not trained here. */
        @JsonProperty("base") BASE,
        /** Trained, not judged yet. */
        @JsonProperty("candidate") CANDIDATE,
        @JsonProperty("approved") APPROVED,
        @JsonProperty("rejected") REJECTED
    }

    /**
     * @param type  vllm or djl-lmi
     * @param url   base URL of the OpenAI-compatible server, e.g. {@code http://vllm:8000/v1}
     * @param model the model name that server knows it by
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record RemoteBackend(Type type, String url, String model) {
        public enum Type {
            @JsonProperty("vllm") VLLM,
            @JsonProperty("djl-lmi") DJL_LMI
        }
    }

    public ModelCard {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        if (status == null) status = Status.CANDIDATE;
        hyperparameters = copy(hyperparameters);
        eval = copy(eval);
        parents = parents == null || parents.isEmpty() ? null : parents.stream().filter(Objects::nonNull).toList();
    }

    /** A card without {@link #parents}: every model but an average. */
    public ModelCard(String id, String baseModel, String datasetId, String datasetHash, String method,
            Map<String, Object> hyperparameters, String artifactUri, RemoteBackend remote, Map<String, Object> eval,
            Status status, String parent, String jobId, Instant createdAt, int schemaVersion) {
        this(id, baseModel, datasetId, datasetHash, method, hyperparameters, artifactUri, remote, eval, status, parent,
                null, jobId, createdAt, schemaVersion);
    }

    public ModelCard withStatus(Status newStatus, Map<String, Object> newEval) {
        return new ModelCard(id, baseModel, datasetId, datasetHash, method, hyperparameters, artifactUri, remote,
                newEval, newStatus, parent, parents, jobId, createdAt, schemaVersion);
    }

    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks().required("id", id).supportedSchema(schemaVersion);
        if (remote == null) c.required("artifact_uri", artifactUri);
        else c.required("remote.type", remote.type()).required("remote.url", remote.url()).required("remote.model", remote.model());
        return c.errors();
    }

    private static Map<String, Object> copy(Map<String, Object> m) {
        return m == null || m.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }
}
