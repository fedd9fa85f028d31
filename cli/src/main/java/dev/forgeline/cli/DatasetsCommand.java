package dev.forgeline.cli;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatasetCard;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

@Command(name = "datasets", mixinStandardHelpOptions = true,
        description = "The dataset registry (forge.datasets); with an ID, that dataset's card and first examples.")
final class DatasetsCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "ID", description = "one dataset")
    String id;

    @Option(names = "--examples", defaultValue = "3", description = "with ID: first training examples to show (default ${DEFAULT-VALUE})")
    int examples;

    @Option(names = "--json", description = "the cards as JSON")
    boolean json;

    @Override
    public Integer call() {
        try (Target connection = target) {
            PrintWriter out = spec.commandLine().getOut();
            if (id != null) {
                DatasetCard card = target.view().dataset(id)
                        .orElseThrow(() -> new CliException(Exit.NOT_FOUND, "no dataset " + id + " on forge.datasets"));
                if (json) {
                    out.println(ContractsJson.write(card));
                } else {
                    show(card, out);
                }
                out.flush();
                return Exit.OK;
            }
            List<DatasetCard> cards = target.view().datasets().stream()
                    .sorted(Comparator.comparing(DatasetCard::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))).toList();
            if (json) {
                out.println(ContractsJson.write(cards));
            } else {
                TextTable t = new TextTable("ID", "FORMAT", "TRAIN", "TEST", "SOURCE", "TASK");
                for (DatasetCard c : cards) {
                    t.row(c.id(), c.format(), c.trainExamples(), c.testExamples(), c.source(), abbreviate(c.task(), 50));
                }
                if (t.isEmpty()) out.println("no datasets");
                else t.print(out);
            }
            out.flush();
            return Exit.OK;
        }
    }

    private void show(DatasetCard c, PrintWriter out) {
        TextTable t = new TextTable("FIELD", "VALUE");
        t.row("id", c.id()).row("task", c.task()).row("format", c.format()).row("train", c.trainExamples())
                .row("test", c.testExamples()).row("source", c.source()).row("teacher", c.teacherModel())
                .row("hash", c.contentHash()).row("train_uri", c.trainUri()).row("created", c.createdAt());
        if (!c.stats().isEmpty()) t.row("stats", JobFollower.summary(c.stats()));
        t.print(out);
        Path train = local(c.trainUri());
        if (examples > 0 && train != null && Files.isRegularFile(train)) {
            out.println();
            try (Stream<String> lines = Files.lines(train)) {
                lines.limit(examples).forEach(l -> out.println("  " + abbreviate(l, 240)));
            } catch (IOException e) {
                out.println("  (cannot read " + train + ": " + e.getMessage() + ")");
            }
        }
    }

    /** A {@code file:} URI or a path on this machine; null for anything else. */
    static Path local(String uri) {
        if (uri == null) return null;
        if (uri.startsWith("file:")) return Path.of(URI.create(uri));
        return uri.contains("://") ? null : Path.of(uri);
    }

    static String abbreviate(String s, int max) {
        if (s == null) return null;
        String one = s.replace('\n', ' ');
        return one.length() <= max ? one : one.substring(0, max - 3) + "...";
    }
}
