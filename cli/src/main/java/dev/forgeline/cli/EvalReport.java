package dev.forgeline.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobStatus;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/** An evaluation's report ({@code evals/{job}/report.json}) as a table: accuracy per subject, model against base, and the gate. */
final class EvalReport {
    private EvalReport() {}

    static void print(JobStatus evalJob, PrintWriter out) {
        Object uri = evalJob.result().get("report_uri");
        Path report = uri == null ? null : DatasetsCommand.local(String.valueOf(uri));
        if (report == null || !Files.isRegularFile(report)) {
            out.println("  " + JobFollower.summary(evalJob.result()));
            return;
        }
        JsonNode r;
        try {
            r = ContractsJson.mapper().readTree(report.toFile());
        } catch (IOException e) {
            out.println("  (cannot read " + report + ": " + e.getMessage() + ")");
            return;
        }
        JsonNode model = r.path("model");
        JsonNode base = r.path("base");
        TextTable t = new TextTable("SUBJECT", "ITEMS", "ACCURACY", "BASE");
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("subjects").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> s = it.next();
            t.row(s.getKey(), s.getValue().path("n").asInt(), pct(s.getValue().path("acc")), pct(base.path("subjects").path(s.getKey()).path("acc")));
        }
        if (!model.path("acc").isMissingNode()) {
            t.row("all (micro)", model.path("items").asInt(), pct(model.path("acc").path("value")), pct(base.path("acc").path("value")));
        }
        if (!model.path("held_out").isMissingNode()) {
            t.row("held-out loss", model.path("held_out").path("examples").asInt(), num(model.path("held_out").path("loss")),
                    num(base.path("held_out").path("loss")));
        }
        t.print(out);
        JsonNode gate = r.path("gate");
        out.println("gate: " + gate.path("reason").asText());
        out.flush();
    }

    private static String pct(JsonNode n) {
        return n.isNumber() ? String.format("%.1f%%", n.asDouble() * 100) : "-";
    }

    private static String num(JsonNode n) {
        return n.isNumber() ? String.format("%.4f", n.asDouble()) : "-";
    }
}
