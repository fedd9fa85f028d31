package dev.forgeline.cli;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.ModelCard;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.stream.Collectors;

@Command(name = "models", mixinStandardHelpOptions = true,
        description = "The model registry (forge.models) with each model's status and lineage; with an ID, that model's card.")
final class ModelsCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "ID", description = "one model")
    String id;

    @Option(names = "--status", description = "only models with this status: base, candidate, approved, rejected")
    String status;

    @Option(names = "--json", description = "the cards as JSON")
    boolean json;

    @Override
    public Integer call() {
        try (Target connection = target) {
            PrintWriter out = spec.commandLine().getOut();
            if (id != null) {
                ModelCard card = target.view().model(id)
                        .orElseThrow(() -> new CliException(Exit.NOT_FOUND, "no model " + id + " on forge.models"));
                if (json) {
                    out.println(ContractsJson.write(card));
                } else {
                    TextTable t = new TextTable("FIELD", "VALUE");
                    t.row("id", card.id()).row("status", Style.state(status(card))).row("lineage", lineage(card))
                            .row("artifact", card.artifactUri()).row("created", card.createdAt());
                    if (!card.hyperparameters().isEmpty()) t.row("hyperparameters", JobFollower.summary(card.hyperparameters()));
                    if (!card.eval().isEmpty()) t.row("eval", JobFollower.summary(card.eval()));
                    t.print(out);
                    List<String> ancestry = ancestry(card, target.view()::model);
                    if (!ancestry.isEmpty()) {
                        out.println();
                        out.println("made from:");
                        ancestry.forEach(line -> out.println("  " + line));
                    }
                }
                out.flush();
                return Exit.OK;
            }
            List<ModelCard> cards = target.view().models().stream()
                    .filter(c -> status == null || status.equalsIgnoreCase(status(c)))
                    .sorted(Comparator.comparing(ModelCard::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))).toList();
            if (json) {
                out.println(ContractsJson.write(cards));
            } else {
                TextTable t = new TextTable("ID", "STATUS", "GATE", "LINEAGE");
                for (ModelCard c : cards) t.row(c.id(), Style.state(status(c)), c.eval().get("gate"), lineage(c));
                if (t.isEmpty()) out.println("no models");
                else t.print(out);
            }
            out.flush();
            return Exit.OK;
        }
    }

    static String status(ModelCard c) {
        return c.status().name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The models this one was made from, and theirs, nearest first, each once: "id  lineage", or
     * "id  (not on forge.models)" for a model the registry does not hold (a base model from a
     * folder or the Hub, or one withdrawn).
     */
    static List<String> ancestry(ModelCard card, Function<String, Optional<ModelCard>> registry) {
        List<String> lines = new ArrayList<>();
        Set<String> seen = new HashSet<>(List.of(card.id()));
        Deque<String> next = new ArrayDeque<>(parentsOf(card));
        while (!next.isEmpty()) {
            String id = next.removeFirst();
            if (!seen.add(id)) continue;
            Optional<ModelCard> found = registry.apply(id);
            lines.add(id + "  " + found.map(ModelsCommand::lineage).orElse("(not on forge.models)"));
            found.ifPresent(c -> next.addAll(parentsOf(c)));
        }
        return lines;
    }

    /** What a card names as made from: an average's parents, else the model the job started from. */
    private static List<String> parentsOf(ModelCard c) {
        if (c.parents() != null && !c.parents().isEmpty()) return c.parents().stream().map(p -> p.model()).toList();
        String from = c.parent() != null ? c.parent() : c.baseModel();
        return from == null ? List.of() : List.of(from.startsWith("models/") ? from.substring("models/".length()) : from);
    }

    /** base -> dataset -> method (job) -> this model; an average: base -> average of w1 parent1 + w2 parent2 (job). */
    static String lineage(ModelCard c) {
        if (c.baseModel() == null && c.parent() == null) return "(base model)";
        StringBuilder sb = new StringBuilder(c.baseModel() != null ? c.baseModel() : c.parent());
        if (c.parents() != null) {
            sb.append(" -> ").append(c.method() != null ? c.method() : "average").append(" of ").append(c.parents().stream()
                    .map(p -> new BigDecimal(p.weight()).round(new MathContext(3)).stripTrailingZeros().toPlainString()
                            + " " + p.model())
                    .collect(Collectors.joining(" + ")));
        } else {
            if (c.datasetId() != null) sb.append(" + ").append(c.datasetId());
            if (c.method() != null) sb.append(" -> ").append(c.method());
        }
        if (c.jobId() != null) sb.append(" (job ").append(c.jobId()).append(')');
        return sb.toString();
    }
}
