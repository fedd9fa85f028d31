package dev.forgeline.cli;

import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

@Command(name = "cancel", mixinStandardHelpOptions = true,
        description = "Ask a job to stop. A running job ends CANCELLED at its next check (its checkpoints and data stay); "
                + "one not started yet ends without running.")
final class CancelCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "ID", description = "the job id")
    String id;

    @Option(names = "--reason", defaultValue = "cancelled from the forge CLI", description = "recorded with the cancel")
    String reason;

    @Override
    public Integer call() {
        try (Target connection = target) {
            PrintWriter out = spec.commandLine().getOut();
            JobStatus s = target.view().job(id).orElse(null);
            if (s != null && s.state().isTerminal()) {
                out.println(id + " already ended " + Style.state(s.state().name()) + "; nothing to cancel");
                out.flush();
                return Exit.OK;
            }
            target.publish(Topics.JOB_CANCELS, id, JobCancel.of(id, reason));
            out.println("cancel requested for " + id + (s == null ? " (not started yet: it will not run)" : ""));
            out.flush();
            return Exit.OK;
        }
    }
}
