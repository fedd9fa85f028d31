package dev.forgeline.datagen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.engine.tokenizer.ChatMessage;
import dev.forgeline.engine.train.PreferenceDataset;
import dev.forgeline.engine.train.PreferenceExample;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.kafka.TopicRecords;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/** A preference file imported through the real broker: what is kept, the card's counts, and that the trainer's reader reads it. */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(DatagenTestResource.class)
class PreferenceImportTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @Test
    void preferenceFileBecomesAPreferenceDatasetTheTrainersReaderReads() throws Exception {
        Path store = Path.of(ConfigProvider.getConfig().getValue("forge.artifacts.root", String.class));
        String bootstrap = ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class);
        Path file = Files.createDirectories(store.resolve("uploads")).resolve("prefs.jsonl");
        Files.writeString(file, String.join("\n",
                "{\"prompt\": \"What colour is the sky?\", \"chosen\": \"Blue.\", \"rejected\": \"A cat.\"}",
                "{\"prompt\": [{\"role\": \"system\", \"content\": \"Be short.\"}, {\"role\": \"user\", \"content\": \"Grass?\"}],"
                        + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"Green.\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"A dog.\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"},"
                        + " {\"role\": \"user\", \"content\": \"Sun?\"}], \"chosen\": {\"role\": \"assistant\", \"content\": \"Yellow.\"},"
                        + " \"rejected\": \"A cow.\"}",
                "",
                "not json",
                "{\"prompt\": \"Snow?\", \"chosen\": \"White.\"}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}],"
                        + " \"chosen\": \"x\", \"rejected\": \"y\"}",
                "{\"prompt\": \"Night?\", \"chosen\": [{\"role\": \"user\", \"content\": \"Dark.\"}], \"rejected\": \"A bat.\"}",
                "{\"prompt\": \"Coal?\", \"chosen\": \"Black.\", \"rejected\": \" Black. \"}",
                "{\"prompt\": \"Milk?\", \"chosen\": \"  \", \"rejected\": \"A goat.\"}",
                "{\"prompt\": \"What colour is the sky?\", \"chosen\": \"Blue.\", \"rejected\": \"A cat.\"}",
                "{\"prompt\": \"Blood?\", \"chosen\": \"Red.\", \"rejected\": \"A fish.\"}",
                "{\"prompt\": \"Leaves in autumn?\", \"chosen\": \"Orange.\", \"rejected\": \"A horse.\"}",
                "[1, 2]") + "\n");
        String jobId = "pref-" + System.nanoTime();
        DatagenRequest request = DatagenRequest.builder(jobId).then(List.of("train"))
                .source(new DatagenRequest.Source("uploads/prefs.jsonl", DatagenRequest.Format.PREFERENCE)).testFraction(0.2)
                .train(TrainingRequest.builder(null).baseModel("stories260k").method(TrainingRequest.Method.DPO).maxSteps(5).build())
                .build();
        TopicRecords.send(bootstrap, Topics.DATAGEN_REQUESTS, jobId, request);
        JobStatus status = TopicRecords.await(bootstrap, Topics.JOBS, jobId, JobStatus.class, s -> s.state().isTerminal(), TIMEOUT);
        assertNotNull(status, "job did not end");
        assertEquals(JobState.SUCCEEDED, status.state(), () -> "error: " + status.error());

        DatasetCard card = ContractsJson.read(Files.readString(store.resolve("datasets/" + jobId + "/card.json")), DatasetCard.class);
        assertEquals("preference", card.format());
        Map<String, Object> s = card.stats();
        assertEquals(14, number(s.get("lines")));
        assertEquals(5, number(s.get("malformed")));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> malformed = (List<Map<String, Object>>) s.get("malformed_lines");
        assertEquals(List.of(5L, 6L, 7L, 8L, 14L), malformed.stream().map(m -> number(m.get("line"))).toList());
        List<String> reasons = malformed.stream().map(m -> (String) m.get("reason")).toList();
        assertTrue(reasons.get(0).startsWith("not JSON"), reasons.toString());
        assertEquals("missing \"rejected\"", reasons.get(1));
        assertEquals("\"prompt\" must end with a user turn, ends with assistant", reasons.get(2));
        assertEquals("chosen[0].role must be assistant", reasons.get(3));
        assertEquals("not an object but a list", reasons.get(4));
        assertEquals(8, number(s.get("returned")), "14 lines less a blank one and 5 malformed");
        assertEquals(Map.of("empty", 1L, "identical_replies", 1L), numbers(s.get("rejected")));
        assertEquals(Map.of("exact", 1L, "near", 0L), numbers(s.get("duplicates")));
        assertEquals(5, number(s.get("kept")));
        assertEquals(5, number(s.get("pairs")));
        assertEquals(4, number(s.get("train")));
        assertEquals(1, number(s.get("test")));
        assertEquals(4, card.trainExamples());
        assertEquals(1, card.testExamples());

        // the trainer's dpo reads the files with the engine's reader
        List<PreferenceExample> all = new ArrayList<>(PreferenceDataset.read(store.resolve("datasets/" + jobId + "/train.jsonl")));
        assertEquals(4, all.size());
        all.addAll(PreferenceDataset.read(store.resolve("datasets/" + jobId + "/test.jsonl")));
        Map<String, String> chosenByQuestion = new TreeMap<>();
        for (PreferenceExample p : all) {
            chosenByQuestion.put(p.prompt().get(p.prompt().size() - 1).content(), p.chosen().content());
        }
        assertEquals(Map.of("What colour is the sky?", "Blue.", "Grass?", "Green.", "Sun?", "Yellow.", "Blood?", "Red.",
                "Leaves in autumn?", "Orange."), chosenByQuestion);
        PreferenceExample grass = all.stream().filter(p -> p.chosen().content().equals("Green.")).findFirst().orElseThrow();
        assertEquals(List.of(ChatMessage.system("Be short."), ChatMessage.user("Grass?")), grass.prompt());
        assertEquals(Set.of("A cat.", "A dog.", "A cow.", "A fish.", "A horse."),
                Set.copyOf(all.stream().map(p -> p.rejected().content()).toList()));

        TrainingRequest next = TopicRecords.await(bootstrap, Topics.TRAINING_REQUESTS, jobId + "-train", TrainingRequest.class,
                t -> true, TIMEOUT);
        assertNotNull(next, "then: [train] publishes the training request");
        assertEquals(jobId, next.dataset());
        assertEquals(TrainingRequest.Method.DPO, next.method());
    }

    private static long number(Object o) {
        return ((Number) o).longValue();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Long> numbers(Object o) {
        Map<String, Long> out = new TreeMap<>();
        ((Map<String, Object>) o).forEach((k, v) -> out.put(k, number(v)));
        return out;
    }
}
