package dev.forgeline.contracts;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ValidationTest {
    private static List<String> errors(JobRequest r) {
        return r.validate().stream().map(FieldError::toString).toList();
    }

    private static TrainingRequest training(String json) throws Exception {
        return ContractsJson.read(json, TrainingRequest.class);
    }

    @Test
    void trainingFieldMessages() throws Exception {
        assertEquals(List.of("job_id: required", "base_model: required", "dataset: required"), errors(training("{}")));
        assertEquals(List.of("learning_rate: must be > 0", "gradient_accumulation_steps: must be >= 1", "lora.r: must be > 0"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","learning_rate":0,
                         "gradient_accumulation_steps":0,"lora":{"r":0,"alpha":16}}""")));
        assertEquals(List.of("epochs: must be >= 1", "warmup_ratio: must be in [0, 1)", "micro_batch_size: must be >= 1",
                        "max_grad_norm: must be > 0", "weight_decay: must be >= 0", "lora.dropout: must be in [0, 1)"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","epochs":0,"warmup_ratio":1.5,"micro_batch_size":0,
                         "max_grad_norm":-1,"weight_decay":-0.1,"lora":{"dropout":1.0}}""")));
        assertEquals(List.of("trainable_layers: must be >= 1"), errors(training("""
                {"job_id":"j","base_model":"b","dataset":"d","method":"freeze","trainable_layers":0}""")));
        assertEquals(List.of("then[0]: unknown step 'bake' (expected one of [train, eval, deploy])",
                        "then: 'train' hands the rest of the chain to the next training step: then must be [\"train\"]"
                                + " and the steps after it go in train.then",
                        "train: required when then names 'train' (the next step's settings, at least its method)"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","then":["bake","train"]}""")));
        assertEquals(List.of("then: 'deploy' needs an 'eval' step before it: the eval gate decides what is served"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","then":["deploy"]}""")));
        assertEquals(List.of("eval: required when then names 'eval' (at least a dataset or a gate)"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","then":["eval","deploy"]}""")));
        assertEquals(List.of("eval.num_fewshot: must be in [0, 100]", "eval.gate.max_accuracy_drop: must be in [0, 1]"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","then":["eval"],
                         "eval":{"dataset":"mmlu","num_fewshot":-2,"gate":{"max_accuracy_drop":3}}}""")));
        assertEquals(List.of(), errors(training("""
                {"job_id":"j","base_model":"b","dataset":"d","then":["eval","deploy"],"eval":{"dataset":"mmlu"}}""")));
        assertEquals(List.of("max_steps: must be >= 1"), errors(training("""
                {"job_id":"j","base_model":"b","dataset":"d","max_steps":0}""")));
        assertEquals(List.of("job_id: required"), errors(training("""
                {"job_id":"  ","base_model":"b","dataset":"d"}""")));
    }

    @Test
    void dpoGetsLoraAndItsDefaultsAndChecksBetaAndAlpha() throws Exception {
        TrainingRequest r = training("{\"job_id\":\"j\",\"base_model\":\"b\",\"dataset\":\"d\",\"method\":\"dpo\"}");
        assertEquals(TrainingRequest.Method.DPO, r.method());
        assertEquals(8, r.lora().r());
        assertEquals(0.1, r.beta());
        assertEquals(0.0, r.alpha());
        assertEquals(List.of(), r.validate());
        assertEquals(List.of("beta: must be > 0", "alpha: must be >= 0", "packing: dpo does not pack pairs; packing must be false"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","method":"dpo","beta":0,"alpha":-1,"packing":true}""")));
        assertEquals(List.of("beta: only for method dpo"), errors(training("""
                {"job_id":"j","base_model":"b","dataset":"d","beta":0.2}""")));
        assertEquals(null, training("{\"job_id\":\"j\",\"base_model\":\"b\",\"dataset\":\"d\"}").beta());
    }

    @Test
    void averageTakesModelsAndRefusesTrainingFields() throws Exception {
        TrainingRequest r = training("""
                {"job_id":"a","method":"average","models":[{"model":"m1"},{"model":"m2","weight":3}]}""");
        assertEquals(List.of(), r.validate());
        assertEquals(List.of(WeightedModel.of("m1"), new WeightedModel("m2", 3.0)), r.models());
        assertEquals(null, r.baseModel());
        assertEquals(null, r.epochs());
        assertEquals(null, r.lora());
        assertEquals(List.of("models: method average needs two or more models, got 1",
                        "models[0].weight: must be a positive number",
                        "lora: does not apply to method average: it trains nothing",
                        "learning_rate: does not apply to method average: it trains nothing",
                        "gradient_checkpointing: does not apply to method average: it trains nothing",
                        "seed: does not apply to method average: it trains nothing"),
                errors(training("""
                        {"job_id":"a","method":"average","models":[{"model":"m1","weight":-1}],
                         "lora":{"r":8},"learning_rate":0.001,"seed":1,"gradient_checkpointing":true}""")));
        assertEquals(List.of("models[0].model: required", "models[1]: required"),
                errors(training("""
                        {"job_id":"a","method":"average","models":[{"weight":1},null]}""")));
        assertEquals(List.of("models: only for method average"), errors(training("""
                {"job_id":"j","base_model":"b","dataset":"d","models":[{"model":"m1"},{"model":"m2"}]}""")));
        assertEquals(List.of("eval.dataset: required: this step has no dataset whose test split could be the held-out set"),
                errors(training("""
                        {"job_id":"a","method":"average","models":[{"model":"m1"},{"model":"m2"}],"then":["eval"],
                         "eval":{"gate":{"max_accuracy_drop":0.1}}}""")));
    }

    /** One round as a chain: SFT, then DPO on the SFT model, then the average of the two, then eval. */
    @Test
    void aChainOfTrainingStepsFillsInWhatFollowsFromThePreviousOne() throws Exception {
        TrainingRequest round = training("""
                {"job_id":"r1","base_model":"stories260k","dataset":"sft","then":["train"],
                 "train":{"method":"dpo","then":["train"],
                          "train":{"method":"average","then":["eval","deploy"],"eval":{"dataset":"mmlu"}}}}""");
        assertEquals(List.of("train.dataset: required"), errors(round));
        round = round.withDatasetWhereMissing("prefs");
        assertEquals(List.of(), round.validate());
        assertEquals("sft", round.dataset());

        TrainingRequest dpo = round.nextTraining("stories260k");
        assertEquals("r1-dpo", dpo.jobId());
        assertEquals("ft-r1", dpo.baseModel());
        assertEquals("prefs", dpo.dataset());
        assertEquals(List.of("train"), dpo.then());
        assertEquals(0.1, dpo.beta());
        TrainingRequest average = dpo.nextTraining(dpo.baseModel());
        assertEquals("r1-dpo-average", average.jobId());
        assertEquals(null, average.baseModel());
        assertEquals(List.of(WeightedModel.of("ft-r1"), WeightedModel.of("ft-r1-dpo")), average.models());
        assertEquals(List.of("eval", "deploy"), average.then());
        assertEquals(List.of(), average.validate());
        TrainingRequest named = training("""
                {"job_id":"j","base_model":"b","dataset":"d","model_id":"sft-1","then":["train"],
                 "train":{"job_id":"ignored","dataset":"d2","base_model":"other"}}""").nextTraining("b");
        assertEquals("j-lora", named.jobId());
        assertEquals("other", named.baseModel());

        assertEquals(List.of("eval: belongs on the last training step of the chain, the one whose then names 'eval'",
                        "train.train.models: method average needs two or more models, got 1",
                        "train.train.then: 'deploy' needs an 'eval' step before it: the eval gate decides what is served"),
                errors(training("""
                        {"job_id":"r1","base_model":"b","dataset":"sft","then":["train"],"eval":{"dataset":"mmlu"},
                         "train":{"method":"dpo","dataset":"p","then":["train"],
                                  "train":{"method":"average","models":[{"model":"x"}],"then":["deploy"]}}}""")));
        assertEquals(List.of("train: only when then names 'train'"), errors(training("""
                {"job_id":"j","base_model":"b","dataset":"d","train":{"dataset":"d2"}}""")));
        // an eval in the middle of a chain is refused: the eval step ends a chain (it can only be followed by deploy)
        assertEquals(List.of("then: 'train' hands the rest of the chain to the next training step: then must be [\"train\"]"
                        + " and the steps after it go in train.then",
                        "eval: belongs on the last training step of the chain, the one whose then names 'eval'"),
                errors(training("""
                        {"job_id":"j","base_model":"b","dataset":"d","then":["eval","train"],"eval":{"dataset":"mmlu"},
                         "train":{"dataset":"d2"}}""")));
    }

    @Test
    void freezeNeedsNoLoraAndGetsADefaultLayerCount() throws Exception {
        TrainingRequest r = training("{\"job_id\":\"j\",\"base_model\":\"b\",\"dataset\":\"d\",\"method\":\"full\"}");
        assertEquals(null, r.lora());
        assertEquals(List.of(), r.validate());
        TrainingRequest f = training("{\"job_id\":\"j\",\"base_model\":\"b\",\"dataset\":\"d\",\"method\":\"freeze\"}");
        assertEquals(2, f.trainableLayers());
    }

    @Test
    void datagenAndEval() throws Exception {
        assertEquals(List.of("num_examples: must be >= 1", "task: required", "train: required when then names 'train' (at least base_model)"),
                errors(ContractsJson.read("{\"job_id\":\"g\",\"num_examples\":0,\"then\":[\"train\"]}", DatagenRequest.class)));
        assertEquals(List.of("train.base_model: required", "then: a dataset goes to 'train' first, not 'eval'"),
                errors(ContractsJson.read("{\"job_id\":\"g\",\"task\":\"t\",\"then\":[\"eval\",\"train\"],\"train\":{}}",
                        DatagenRequest.class)));
        assertEquals(List.of("source.format: required", "seed_examples[0]: has no messages"),
                errors(ContractsJson.read("{\"job_id\":\"g\",\"source\":{\"path\":\"a.jsonl\"},\"seed_examples\":[{}]}",
                        DatagenRequest.class)));
        assertEquals(List.of("model: required", "num_fewshot: must be in [0, 100]", "gate.min_accuracy: must be in [0, 1]"),
                errors(ContractsJson.read("""
                        {"job_id":"e","dataset":"x","num_fewshot":-1,"gate":{"min_accuracy":2}}""", EvalRequest.class)));
        assertEquals(List.of("then[1]: step 'deploy' named twice", "then: a dataset goes to 'train' first, not 'deploy'"),
                errors(ContractsJson.read("""
                        {"job_id":"g","task":"t","then":["deploy","deploy"]}""", DatagenRequest.class)));
    }

    @Test
    void cardsAndCancel() {
        assertEquals(List.of(new FieldError("job_id", "required")), JobCancel.of(null, "x").validate());
        ModelCard remoteOnly = new ModelCard("m", null, null, null, null, null, null,
                new ModelCard.RemoteBackend(ModelCard.RemoteBackend.Type.VLLM, "http://v:8000/v1", "big"),
                null, null, null, null, null, 0);
        assertEquals(List.of(), remoteOnly.validate());
        assertEquals(ModelCard.Status.CANDIDATE, remoteOnly.status());
        assertTrue(new ModelCard(null, null, null, null, null, null, null, null, null, null, null, null, null, 0)
                .validate().contains(new FieldError("artifact_uri", "required")));
    }

    @Test
    void newerSchemaVersionsAreReadNotRejected() throws Exception {
        TrainingRequest r = training("{\"schema_version\":2,\"job_id\":\"j\",\"base_model\":\"b\",\"dataset\":\"d\"}");
        assertEquals(2, r.schemaVersion());
        assertEquals(List.of(), r.validate());
        assertEquals(List.of("schema_version: must be >= 1"),
                errors(training("{\"schema_version\":-1,\"job_id\":\"j\",\"base_model\":\"b\",\"dataset\":\"d\"}")));
    }

    @Test
    void aPreferenceImportTrainsWithDpoAndOnlyIt() throws Exception {
        String pairs = "{\"job_id\":\"p\",\"source\":{\"path\":\"u.jsonl\",\"format\":\"preference\"},\"then\":[\"train\"],";
        assertEquals(List.of(), errors(ContractsJson.read(pairs + "\"train\":{\"base_model\":\"b\",\"method\":\"dpo\"}}",
                DatagenRequest.class)));
        assertEquals(List.of("train.method: a preference dataset trains with method dpo"),
                errors(ContractsJson.read(pairs + "\"train\":{\"base_model\":\"b\"}}", DatagenRequest.class)));
        assertEquals(List.of("train.method: method dpo needs a preference dataset (source.format preference)"),
                errors(ContractsJson.read("{\"job_id\":\"c\",\"task\":\"t\",\"then\":[\"train\"],"
                        + "\"train\":{\"base_model\":\"b\",\"method\":\"dpo\"}}", DatagenRequest.class)));
    }
}
