package dev.forgeline.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"Chat with a served model: each answer streams in as it is written; the conversation is kept "
                + "until /reset. /exit or end of input leaves.",
                "Without a terminal, every input line is one user turn (so it can be scripted)."})
final class ChatCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "a model id from `forge models` or /v1/models")
    String model;

    @Option(names = {"-m", "--message"}, description = "send this one message, print the answer and exit")
    String message;

    @Option(names = "--system", description = "a system prompt at the start of the conversation")
    String system;

    @Option(names = "--max-tokens", defaultValue = "256", description = "per answer (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.7", description = "sampling temperature (default ${DEFAULT-VALUE}; 0: greedy)")
    double temperature;

    @Override
    public Integer call() throws IOException, InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        GatewayClient gateway = target.gateway();
        List<GatewayClient.Message> history = new ArrayList<>();
        if (system != null) history.add(new GatewayClient.Message("system", system));
        if (message != null) {
            turn(gateway, history, message, out);
            return Exit.OK;
        }
        if (!gateway.models().contains(model)) {
            throw new CliException(Exit.NOT_FOUND, "the gateway does not serve " + model + " (see forge models)");
        }
        if (Style.TERMINAL) out.println(Style.color("@|faint chatting with " + model + "; /reset forgets, /exit leaves|@"));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        while (true) {
            if (Style.TERMINAL) {
                out.print(Style.color("@|bold > |@"));
                out.flush();
            }
            String line = in.readLine();
            if (line == null || line.strip().equals("/exit")) return Exit.OK;
            if (line.isBlank()) continue;
            if (line.strip().equals("/reset")) {
                history.removeIf(m -> !m.role().equals("system"));
                out.println("(conversation cleared)");
                continue;
            }
            turn(gateway, history, line, out);
        }
    }

    private void turn(GatewayClient gateway, List<GatewayClient.Message> history, String text, PrintWriter out)
            throws InterruptedException {
        history.add(new GatewayClient.Message("user", text));
        String answer = gateway.chat(model, history, maxTokens, temperature, delta -> {
            out.print(delta);
            out.flush();
        });
        out.println();
        out.flush();
        history.add(new GatewayClient.Message("assistant", answer));
    }
}
