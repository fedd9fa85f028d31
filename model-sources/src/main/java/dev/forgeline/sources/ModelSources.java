package dev.forgeline.sources;

import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.hub.HubModelId;
import dev.forgeline.engine.hub.HubModelResolver;
import dev.forgeline.engine.train.PeftAdapter;
import dev.forgeline.jobs.ArtifactStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Turns a model named in a request ({@code base_model}, {@code model}) into a local Hugging Face folder the engine can load, trying
 * in order: a {@code file:} URI or absolute path; {@code models/{id}} or a bare id registered in the
 * artifact store; a folder name under {@code forge.base-models}; a Hub id ({@code org/name[@rev]})
 * through the Hugging Face cache. A bare name is looked up under {@code forge.base-models} before the
 * store, so the base models an operator offers are not shadowed by a trained model of the same name.
 */
public final class ModelSources {

    /**
     * @param reference    what the request said
     * @param registeredId the model's id when it is a model of the registry (it becomes the card's parent)
     */
    public record ModelSource(String reference, Path dir, String registeredId) {
        /** The id lineage names: the registered id, else the folder or Hub name. */
        public String parent() {
            return registeredId != null ? registeredId : reference;
        }
    }

    private final ArtifactStore store;
    private final Optional<Path> offered;
    private final Supplier<HubModelResolver> hub;
    private final String use; // what the service does with a model, for messages: "trained", "evaluated"

    public ModelSources(ArtifactStore store, Optional<Path> offered, Supplier<HubModelResolver> hub, String use) {
        this.store = store;
        this.offered = offered;
        this.hub = hub;
        this.use = use;
    }

    /**
     * The model's folder, checked to be one the engine can load; fails with a message for the job
     * status that names the request's {@code field}.
     */
    public ModelSource resolve(String field, String reference) {
        String noun = field.replace('_', ' ');
        ModelSource model = locate(field, noun, reference.strip());
        return checked(noun, model);
    }

    /**
     * As {@link #resolve}, but a PEFT adapter folder (adapter_config.json and no config.json) is
     * returned as it is, for a caller that merges it into its base first ({@code PeftAdapter}).
     */
    public ModelSource resolveModelOrAdapter(String field, String reference) {
        String noun = field.replace('_', ' ');
        ModelSource model = locate(field, noun, reference.strip());
        return isAdapter(model.dir()) ? model : checked(noun, model);
    }

    /** A PEFT adapter folder alone, not a model folder that also holds an adapter_config.json. */
    public static boolean isAdapter(Path dir) {
        return PeftAdapter.isAdapter(dir) && !Files.isRegularFile(dir.resolve("config.json"));
    }

    private ModelSource locate(String field, String noun, String ref) {
        if (ref.startsWith("file:")) {
            return folder(noun, ref, LocalPaths.fromFileUri(ref, field));
        }
        Path path = Path.of(ref);
        if (path.isAbsolute()) {
            return folder(noun, ref, path);
        }
        if (ref.startsWith("models/")) {
            String id = ref.substring("models/".length());
            return registered(ref, id).orElseThrow(() -> new IllegalArgumentException(noun + " '" + ref
                    + "' not found: the artifact store " + store.uri() + " has no " + ref + "/config.json"));
        }
        if (LocalPaths.isId(ref)) {
            Optional<Path> underOffered = offered.map(dir -> dir.resolve(ref)).filter(Files::isDirectory);
            if (underOffered.isPresent()) {
                return new ModelSource(ref, underOffered.get(), null);
            }
            Optional<ModelSource> model = registered(ref, ref);
            if (model.isPresent()) {
                return model.get();
            }
        }
        if (Files.isDirectory(path)) {
            return new ModelSource(ref, path.toAbsolutePath(), null);
        }
        Optional<HubModelId> hubId = HubModelId.parse(ref);
        if (hubId.isPresent()) {
            try {
                return new ModelSource(ref, hub.get().resolve(hubId.get()), null);
            } catch (IOException | RuntimeException e) {
                throw new IllegalArgumentException(noun + " '" + ref + "': cannot get it from the Hugging Face Hub: "
                        + e.getMessage(), e);
            }
        }
        throw new IllegalArgumentException(noun + " '" + ref + "' not found: not a folder, not a model in the artifact "
                + "store, not a Hugging Face id (org/name)" + offeredHint());
    }

    private ModelSource folder(String noun, String ref, Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(noun + " '" + ref + "' not found: no folder " + dir);
        }
        return new ModelSource(ref, dir, null);
    }

    private Optional<ModelSource> registered(String ref, String id) {
        if (!LocalPaths.isId(id) || !store.exists("models/" + id + "/config.json")) {
            return Optional.empty();
        }
        Path dir = store.localPath("models/" + id).orElseThrow(() -> new IllegalStateException(
                "the artifact store " + store.uri() + " has no local files; loading models needs a file: store"));
        return Optional.of(new ModelSource(ref, dir, id));
    }

    private String offeredHint() {
        if (offered.isEmpty()) {
            return "; forge.base-models (FORGE_BASE_MODELS) is not set";
        }
        try (Stream<Path> s = Files.list(offered.get())) {
            List<String> names = s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
            return "; base models offered in " + offered.get() + ": " + (names.isEmpty() ? "none" : String.join(", ", names));
        } catch (IOException e) {
            return "; forge.base-models " + offered.get() + " cannot be listed (" + e.getMessage() + ")";
        }
    }

    /** The engine's own reading of config.json says whether it can build this model. */
    private ModelSource checked(String noun, ModelSource model) {
        String what = noun + " '" + model.reference() + "' (" + model.dir() + ")";
        if (!Files.isRegularFile(model.dir().resolve("config.json"))) {
            if (isAdapter(model.dir())) {
                throw new IllegalArgumentException(what + " cannot be " + use + " here: it is a PEFT adapter"
                        + " (adapter_config.json), not a whole model; name the merged model instead (the trainer writes"
                        + " models/{id} beside its adapter models/{id}/adapter)");
            }
            throw new IllegalArgumentException(what + " is not a Hugging Face model folder: it has no config.json");
        }
        try {
            ModelConfig.read(model.dir());
        } catch (ModelFormatException e) {
            throw new IllegalArgumentException(what + " cannot be " + use + " here: " + e.getMessage(), e);
        }
        if (!Files.isRegularFile(model.dir().resolve("tokenizer.json"))) {
            throw new IllegalArgumentException(what + " cannot be " + use + " here: it has no tokenizer.json");
        }
        return model;
    }
}
