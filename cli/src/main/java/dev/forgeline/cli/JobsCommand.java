package dev.forgeline.cli;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "jobs", mixinStandardHelpOptions = true, description = "List jobs, the newest first: id, kind, state, progress, age.")
final class JobsCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Option(names = "--kind", description = "only jobs of this kind: datagen, rejection-sampling, train, eval")
    String kind;

    @Option(names = "--state", description = "only jobs in this state: QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED")
    String state;

    @Option(names = {"-n", "--limit"}, defaultValue = "20", description = "at most this many (default ${DEFAULT-VALUE}; 0: all)")
    int limit;

    @Option(names = "--json", description = "the statuses as a JSON array")
    boolean json;

    @Override
    public Integer call() {
        try (Target connection = target) {
            List<JobStatus> jobs = target.view().jobs().stream()
                    .filter(j -> kind == null || kind.equalsIgnoreCase(j.kind()))
                    .filter(j -> state == null || state.equalsIgnoreCase(j.state().name()))
                    .limit(limit > 0 ? limit : Long.MAX_VALUE)
                    .toList();
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(ContractsJson.write(jobs));
                out.flush();
                return Exit.OK;
            }
            TextTable table = new TextTable("ID", "KIND", "STATE", "PROGRESS", "AGE", "DETAIL");
            Instant now = Instant.now();
            for (JobStatus j : jobs) {
                table.row(j.jobId(), j.kind(), Style.state(j.state().name()), Math.round(j.progress() * 100) + "%",
                        j.createdAt() == null ? null : Style.duration(Duration.between(j.createdAt(), now)), detail(j));
            }
            if (table.isEmpty()) out.println("no jobs");
            else table.print(out);
            out.flush();
            return Exit.OK;
        }
    }

    /** What the job made, or why it failed. */
    private static String detail(JobStatus j) {
        if (j.error() != null) return j.error().length() > 60 ? j.error().substring(0, 57) + "..." : j.error();
        for (String key : List.of("model_id", "dataset_id", "accuracy")) {
            if (j.result().containsKey(key)) return key + "=" + JobFollower.format(j.result().get(key));
        }
        return j.metrics().get("loss") instanceof Number loss ? String.format("loss=%.4f", loss.doubleValue()) : "";
    }
}
