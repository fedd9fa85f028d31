package dev.forgeline.cli;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;

@Command(name = "job", mixinStandardHelpOptions = true,
        description = "One job's status; with --follow, its events as they arrive and a live progress bar until it ends.")
final class JobCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "ID", description = "the job id")
    String id;

    @Option(names = {"-f", "--follow"}, description = "follow the job until it ends; the exit code says how it ended")
    boolean follow;

    @Option(names = "--json", description = "JSON: the status, or with --follow one object per event and the final status")
    boolean json;

    @Override
    public Integer call() throws InterruptedException {
        try (Target connection = target) {
            PrintWriter out = spec.commandLine().getOut();
            if (follow) {
                JobStatus end = new JobFollower(target.view(), out, JobFollower.mode(json), true).follow(id, Duration.ofSeconds(10));
                return end.state() == JobState.SUCCEEDED ? Exit.OK : Exit.FAILED;
            }
            JobStatus s = target.view().job(id).orElseThrow(() -> new CliException(Exit.NOT_FOUND, "no job " + id + " on forge.jobs"));
            if (json) {
                out.println(ContractsJson.write(s));
            } else {
                TextTable t = new TextTable("FIELD", "VALUE");
                t.row("id", s.jobId()).row("kind", s.kind()).row("state", Style.state(s.state().name()))
                        .row("progress", Math.round(s.progress() * 100) + "%").row("attempt", s.attempt())
                        .row("worker", s.worker()).row("checkpoint", s.checkpoint())
                        .row("created", s.createdAt()).row("updated", s.updatedAt());
                if (!s.metrics().isEmpty()) t.row("metrics", JobFollower.summary(s.metrics()));
                if (!s.result().isEmpty()) t.row("result", JobFollower.summary(s.result()));
                if (s.error() != null) t.row("error", s.error());
                t.print(out);
            }
            out.flush();
            return Exit.OK;
        }
    }
}
