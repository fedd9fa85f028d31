package dev.forgeline.gateway;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.config.GenerationConfig;
import dev.forgeline.engine.generate.Generation;
import dev.forgeline.engine.generate.Generator;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.tokenizer.ChatMessage;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;

/**
 * What the engine itself produces for stories260k, without the gateway: the expected text and
 * token counts of the API tests.
 */
final class EngineReference {

    static final String MODEL = "stories260k";

    private static EngineReference instance;

    final Path dir;
    final CausalLm model;
    final Tokenizer tokenizer;
    final ChatTemplate template;
    final GenerationConfig generation;

    private EngineReference(Path dir) {
        this.dir = dir;
        this.model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32);
        this.tokenizer = Tokenizer.load(dir);
        this.template = ChatTemplate.fromModelDir(dir);
        this.generation = GenerationConfig.read(dir, model.config());
    }

    static synchronized EngineReference get() {
        if (instance == null) {
            instance = new EngineReference(modelDir());
        }
        return instance;
    }

    static Path modelDir() {
        return SharedData.model(MODEL);
    }

    int[] chatPrompt(String user) {
        return tokenizer.encode(template.render(List.of(ChatMessage.user(user)), true), false);
    }

    /** Greedy generation with the model's stop tokens, as the gateway runs temperature 0. */
    Generation greedy(int[] prompt, int maxTokens) {
        SamplingParams params = SamplingParams.builder(generation).temperature(0).maxTokens(maxTokens).build();
        return new Generator(model).generate(prompt, params, ids -> tokenizer.decode(ids, true), null);
    }
}
