package dev.forgeline.jobs;

import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.kafka.TopicRecords;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The view reads what was on the topics before it started, follows what comes after, and skips what it cannot read. */
class PlatformViewTest {

    @Test
    void followsJobsEventsDatasetsAndModels() throws Exception {
        String bootstrap = TestKafka.broker().bootstrapServers();
        String job = "view-" + System.nanoTime();
        Instant t0 = Instant.parse("2026-12-01T00:00:00Z");
        TopicRecords.send(bootstrap, Topics.JOBS, job, JobStatus.queued(job, "train", t0));
        TopicRecords.send(bootstrap, Topics.JOB_EVENTS, job, new JobEvent(job, 1, 2, JobEvent.PROGRESS, t0, Map.of("loss", 2.0), 0));
        TopicRecords.send(bootstrap, Topics.JOB_EVENTS, job, new JobEvent(job, 1, 1, JobEvent.PROGRESS, t0, Map.of("loss", 3.0), 0));
        TopicRecords.send(bootstrap, Topics.JOB_EVENTS, job, "not json");

        try (PlatformView view = PlatformView.start(bootstrap, "test")) {
            assertEquals(JobState.QUEUED, view.job(job).orElseThrow().state());
            assertEquals(List.of(1L, 2L), view.events(job).stream().map(JobEvent::seq).toList(), "ordered by seq");

            List<JobStatus> seen = new CopyOnWriteArrayList<>();
            view.onStatus(seen::add);
            String later = job + "-later";
            TopicRecords.send(bootstrap, Topics.JOBS, later, JobStatus.queued(later, "eval", t0.plusSeconds(60)));
            TopicRecords.send(bootstrap, Topics.JOB_EVENTS, job, new JobEvent(job, 2, 1, JobEvent.STATE, t0, Map.of(), 0));
            TopicRecords.send(bootstrap, Topics.DATASETS, job, new DatasetCard(job, "task", null, "file:/t", null, 3, 1,
                    null, null, null, null, null, t0, 0));
            TopicRecords.send(bootstrap, Topics.MODELS, "ft-" + job, new ModelCard("ft-" + job, "stories260k", job, null,
                    "lora", null, "file:/m", null, null, ModelCard.Status.APPROVED, "stories260k", job, t0, 0));
            view.sync(Duration.ofSeconds(30));

            assertEquals(List.of(later, job), view.jobs().stream().map(JobStatus::jobId).filter(id -> id.startsWith(job)).toList(),
                    "the newest job first");
            assertTrue(seen.stream().anyMatch(s -> s.jobId().equals(later)));
            assertEquals(List.of(1, 1, 2), view.events(job).stream().map(JobEvent::attempt).toList());
            assertEquals(3, view.dataset(job).orElseThrow().trainExamples());
            assertEquals(ModelCard.Status.APPROVED, view.model("ft-" + job).orElseThrow().status());
            assertTrue(view.isAlive(), "an unreadable record is skipped, the tail goes on");
        }
    }
}
