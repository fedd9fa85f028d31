package dev.forgeline.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code forge}: Forgeline's command line. The {@code ./forge} script runs local mode itself
 * ({@code up}, {@code status}, {@code test}, {@code build}) and hands every other command to this
 * class. Each command talks to Kafka (requests, the job and registry topics) and, for chat, to the
 * gateway; exit codes are the same for all of them (see {@link Exit}).
 */
@Command(name = "forge", mixinStandardHelpOptions = true, versionProvider = Forge.Version.class,
        description = "Forgeline: from a task in plain words to an evaluated, fine-tuned model behind the OpenAI API.",
        subcommands = {
                PipelineCommand.class, JobsCommand.class, JobCommand.class, CancelCommand.class,
                PublishCommand.class, DatasetsCommand.class, ModelsCommand.class, EvalCommand.class,
                ChatCommand.class, CommandLine.HelpCommand.class},
        footerHeading = "%nLocal mode (run by the ./forge script itself):%n",
        footer = {
                "  up       a Kafka broker, the four services and an artifact store on this machine",
                "  status   the processes of a running `./forge up`",
                "  test     every test: mvn -B verify, then the scripted checks",
                "  build    build the jars",
                "",
                "Exit codes: 0 done; 1 the job failed, was cancelled or rejected by its gate; 2 bad usage or an",
                "invalid request; 3 Kafka or the gateway cannot be reached; 4 not found; 130 interrupted.",
                "Environment: KAFKA_BOOTSTRAP_SERVERS, FORGE_GATEWAY_URL, FORGE_API_KEY, NO_COLOR."})
public final class Forge implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line with Forgeline's error handling: a {@link CliException} prints one line and exits with its code. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Forge());
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            if (e instanceof CliException c) {
                line.getErr().println("forge: " + c.getMessage());
                return c.code;
            }
            line.getErr().println("forge: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            return Exit.FAILED;
        });
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Forge.class.getPackage().getImplementationVersion();
            return new String[] {"forge " + (v != null ? v : "0.1.0-SNAPSHOT")};
        }
    }
}
